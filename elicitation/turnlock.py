"""One interviewer turn per interview at a time, across tabs and processes.

The claim lives in the cache (Redis in production), so two tabs, or two web processes, cannot
both ask the model about one interview. A running turn renews its claim every
TURN_LOCK_RENEW_SECONDS; a claim whose process died (kill -9, a lost node) is not renewed and
lapses after TURN_LOCK_SECONDS, so the participant, reconnected to another process, can ask
again within seconds rather than wait out the longest possible turn. While the cache is
unreachable no turn is claimed (TurnLockUnavailable), and a claim that cannot be released
lapses by itself.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from django.core.cache import cache
from redis.exceptions import RedisError

TURN_LOCK_SECONDS = 15
TURN_LOCK_RENEW_SECONDS = 5


class TurnLockUnavailable(Exception):
    """The cache that holds turn claims cannot be reached; ask again in a moment."""


def turn_claim(interview_id: int, owner: str) -> bool:
    try:
        return cache.add(_key(interview_id), owner, timeout=TURN_LOCK_SECONDS)
    except RedisError as error:
        raise TurnLockUnavailable from error


def turn_release(interview_id: int, owner: str) -> None:
    with contextlib.suppress(RedisError):
        if cache.get(_key(interview_id)) == owner:
            cache.delete(_key(interview_id))


@contextlib.asynccontextmanager
async def turn_kept(interview_id: int, owner: str) -> AsyncIterator[None]:
    """Renew `owner`'s claim for as long as the block runs."""
    renewer = asyncio.create_task(_renew_forever(interview_id, owner))
    try:
        yield
    finally:
        renewer.cancel()


async def _renew_forever(interview_id: int, owner: str) -> None:
    while True:
        await asyncio.sleep(TURN_LOCK_RENEW_SECONDS)
        with contextlib.suppress(Exception):  # a cache hiccup: try again at the next beat
            if await cache.aget(_key(interview_id)) == owner:
                await cache.atouch(_key(interview_id), TURN_LOCK_SECONDS)


def _key(interview_id: int) -> str:
    return f"interview-turn:{interview_id}"
