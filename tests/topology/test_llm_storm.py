"""The model answers with 500s, 429s and silence: participants are offered the guided form,
everything they wrote is kept, and the form opens through nginx."""

import asyncio
import itertools

import httpx

from tests.fakes.openai_server import Error, Hang
from tests.topology.clients import (
    Participant,
    interview_status,
    participants_create,
    stored_user_messages,
)

SESSIONS = 4


async def test_an_llm_error_storm_sends_participants_to_the_guided_form_losing_nothing(
    full_stack, llm
):
    stack = full_stack
    failures = itertools.cycle([Error(500), Error(429), Error(503), Hang()])
    llm.responder = lambda request: next(failures)
    rows = participants_create(stack, SESSIONS, "llm-storm")
    people = [Participant(stack, interview_id, cookie) for interview_id, cookie in rows]

    endings = await asyncio.wait_for(
        asyncio.gather(*(p.say_and_hear_reply(f"s-{p.interview_id}", "Hello.") for p in people)),
        240,
    )

    ids = [p.interview_id for p in people]
    assert endings == ["fallback"] * SESSIONS
    assert {f"s-{i}" for i in ids} <= stored_user_messages(stack, ids)
    assert {interview_status(stack, i) for i in ids} == {"guided"}
    fallback = next(f for f in people[0].frames if f.get("type") == "fallback")
    async with httpx.AsyncClient(verify=False, base_url=stack.https) as client:  # noqa: S501
        form = await client.get(fallback["url"], cookies={"mge_participant": people[0].cookie})
    assert form.status_code == 200
