"""PostgreSQL goes down and comes back: requests fail quickly and cleanly while it is down
(readiness says so), nothing is acknowledged that was not stored, and service resumes."""

import asyncio
import time

import httpx

from tests.topology.clients import (
    Participant,
    complete_replies,
    participants_create,
    stored_user_messages,
)

SESSIONS = 4


async def test_a_postgres_restart_fails_requests_cleanly_then_recovers(full_stack, llm):
    stack = full_stack
    rows = participants_create(stack, SESSIONS, "pg-restart")
    people = [Participant(stack, interview_id, cookie) for interview_id, cookie in rows]
    client = httpx.AsyncClient(verify=False, base_url=stack.https, timeout=15)  # noqa: S501

    stack.postgres_stop()
    started = time.monotonic()
    ready = await client.get("/readyz")
    page = await client.get("/s/pg-restart/")
    answered_in = time.monotonic() - started
    turns = [
        asyncio.create_task(p.say_and_hear_reply(f"pg-{p.interview_id}", "She chose."))
        for p in people
    ]
    await asyncio.sleep(3)
    assert not any(p.acked for p in people), "acknowledged while the database was down"
    stack.postgres_start()
    endings = await asyncio.wait_for(asyncio.gather(*turns), 120)
    ready_again = await client.get("/readyz")
    await client.aclose()

    ids = [p.interview_id for p in people]
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("database unreachable")
    assert page.status_code == 500
    assert answered_in < 10
    assert ready_again.status_code == 200
    assert endings == ["reply_end"] * SESSIONS
    assert set().union(*(p.acked for p in people)) <= stored_user_messages(stack, ids)
    assert set(complete_replies(stack, ids)) == set(ids)
