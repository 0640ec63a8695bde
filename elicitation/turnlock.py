"""One interviewer turn per interview at a time, across tabs and processes.

The claim lives in the cache (Redis in production), so two tabs, or two web processes, cannot
both ask the model about one interview. It expires after TURN_LOCK_SECONDS in case the
process holding it dies; that is longer than any turn (timeouts times retries).
"""

from django.core.cache import cache

TURN_LOCK_SECONDS = 300


def turn_claim(interview_id: int, owner: str) -> bool:
    return cache.add(_key(interview_id), owner, timeout=TURN_LOCK_SECONDS)


def turn_release(interview_id: int, owner: str) -> None:
    if cache.get(_key(interview_id)) == owner:
        cache.delete(_key(interview_id))


def _key(interview_id: int) -> str:
    return f"interview-turn:{interview_id}"
