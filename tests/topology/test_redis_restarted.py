"""Redis (channel layer, cache, Celery broker) goes away mid-study and comes back: participants'
messages sent meanwhile are either acknowledged and stored or sent again, and a job queued on
the broker finishes."""

import asyncio

from tests.topology.clients import (
    Participant,
    complete_replies,
    job_start,
    job_state,
    participants_create,
    stored_user_messages,
    until,
)

SESSIONS = 6


async def test_restarting_redis_mid_study_loses_no_message_and_the_queued_job_finishes(
    full_stack, llm
):
    stack = full_stack
    rows = participants_create(stack, SESSIONS, "redis-restart")
    people = [Participant(stack, interview_id, cookie) for interview_id, cookie in rows]
    ids = [p.interview_id for p in people]
    replies_before = complete_replies(stack, ids)
    first = [p.say_and_hear_reply(f"r1-{p.interview_id}", "My sister asked me.") for p in people]
    assert await asyncio.wait_for(asyncio.gather(*first), 90) == ["reply_end"] * SESSIONS
    job_id = job_start(stack, "redis-restart", "simulate", {"participants": 1})

    stack.redis_stop()
    second = [
        asyncio.create_task(p.say_and_hear_reply(f"r2-{p.interview_id}", "I stayed with her."))
        for p in people
    ]
    await asyncio.sleep(2)  # messages arrive while Redis is down
    stack.redis_start()
    endings = await asyncio.wait_for(asyncio.gather(*second), 120)
    await until(lambda: job_state(stack, job_id)[0] in ("done", "failed"), timeout=120, every=0.5)

    acked = set().union(*(p.acked for p in people))
    assert endings == ["reply_end"] * SESSIONS
    assert acked == {f"r{turn}-{i}" for i in ids for turn in (1, 2)}
    assert acked <= stored_user_messages(stack, ids)
    replies = complete_replies(stack, ids)
    assert {i: replies[i] - replies_before.get(i, 0) for i in ids} == dict.fromkeys(ids, 2)
    assert job_state(stack, job_id)[0] == "done"
