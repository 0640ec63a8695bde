"""kill -9 one of two web processes while replies stream: browsers reconnect through nginx to
the other, resume from the database, and nothing acknowledged is lost."""

import asyncio

from tests.topology.clients import (
    Participant,
    complete_replies,
    participants_create,
    stored_user_messages,
    until,
)

SESSIONS = 12


async def test_killing_a_web_process_mid_reply_loses_nothing_acknowledged(full_stack, llm):
    stack = full_stack
    llm.token_delay = 0.1  # replies of a few seconds, so the kill lands mid-stream
    rows = participants_create(stack, SESSIONS, "web-kill")
    people = [Participant(stack, interview_id, cookie) for interview_id, cookie in rows]
    runs = [
        asyncio.create_task(p.say_and_hear_reply(f"kill-{p.interview_id}", "I listened to her."))
        for p in people
    ]
    await until(lambda: all(p.tokens >= 2 for p in people), timeout=60)

    stack.web_kill(0)
    endings = await asyncio.wait_for(asyncio.gather(*runs), 120)

    ids = [p.interview_id for p in people]
    acked = set().union(*(p.acked for p in people))
    assert endings == ["reply_end"] * SESSIONS
    assert sum(p.reconnects for p in people) > 0, "no socket was on the killed process"
    assert acked == {f"kill-{i}" for i in ids}
    assert acked <= stored_user_messages(stack, ids)
    assert set(complete_replies(stack, ids)) == set(ids)
