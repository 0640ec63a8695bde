"""Class 4 of issue 9, replayed: making one participant message cost many LLM calls, and
spending a study's money without end."""

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from config.settings import base
from elicitation import services
from elicitation.models import Interview, LLMCall, Study
from tests.fakes.openai_server import Disconnect, Reply
from tests.security.support import open_socket, say

pytestmark = pytest.mark.django_db(transaction=True)
LONG_REPLY = " ".join(f"word{n}" for n in range(60))


@pytest.fixture
def interview(participant, question) -> Interview:
    return services.interview_start(participant=participant, question=question)


@database_sync_to_async
def turn_calls(interview: Interview) -> int:
    return LLMCall.objects.filter(interview=interview).count()


@database_sync_to_async
def status_of(interview: Interview) -> str:
    interview.refresh_from_db(fields=["status"])
    return interview.status


async def first_frame_of(socket, types: set[str]) -> dict:
    for _ in range(50):
        frame = await socket.receive_json_from(timeout=10)
        if frame["type"] in types:
            return frame
    raise AssertionError(f"no frame of {types}")


async def test_disconnecting_and_retrying_cannot_multiply_the_calls_for_one_message(
    interview, participant, fake_llm, llm_settings, settings
):
    settings.MGE_LLM_CALLS_PER_MESSAGE = 4
    fake_llm.token_delay = 0.05
    fake_llm.responder = lambda request: Reply(LONG_REPLY)
    refusals = []
    for attempt in range(8):
        socket = await open_socket(interview, participant)
        if attempt == 0:
            await say(socket, "My friend faced this choice last year.", "m1")
        else:
            await socket.send_json_to({"type": "retry"})
        frame = await first_frame_of(socket, {"reply_start", "error"})
        if frame["type"] == "reply_start":
            await first_frame_of(socket, {"token"})  # mid-reply
        else:
            refusals.append(frame["code"])
        await socket.disconnect()

    assert await turn_calls(interview) == 4
    assert len(fake_llm.requests) == 4
    assert refusals == ["llm_message_cap"] * 4
    assert await status_of(interview) == Interview.Status.ACTIVE  # they may still write


async def test_retries_count_against_the_message_rate(
    interview, participant, fake_llm, llm_settings, settings
):
    settings.MGE_CHAT_RATE_PER_MINUTE = 2
    fake_llm.script(Disconnect(after_chunks=1), Disconnect(after_chunks=1), Reply("Hello."))
    socket = await open_socket(interview, participant)

    await say(socket, "Here is what happened.", "m1")
    assert (await first_frame_of(socket, {"error"}))["code"] == "llm_interrupted"
    await socket.send_json_to({"type": "retry"})
    assert (await first_frame_of(socket, {"error"}))["code"] == "llm_interrupted"
    await socket.send_json_to({"type": "retry"})
    refusal = await first_frame_of(socket, {"error", "fallback"})
    await socket.disconnect()

    assert refusal["code"] == "rate_limited"
    assert len(fake_llm.requests) == 2


async def test_an_interview_past_its_token_cap_falls_back_to_the_guided_form(
    interview, participant, fake_llm, llm_settings, settings
):
    settings.MGE_INTERVIEW_TOKEN_CAP = 500
    await LLMCall.objects.acreate(
        interview=interview, purpose="interview_turn", model="m", tokens_in=450, tokens_out=60
    )
    socket = await open_socket(interview, participant)

    await say(socket, "And then she decided.", "m1")
    frame = await first_frame_of(socket, {"fallback", "error", "reply_end"})
    await socket.disconnect()

    assert (frame["type"], frame["code"]) == ("fallback", "llm_interview_cap")
    assert "length limit" in frame["message"]
    assert fake_llm.requests == []
    assert await status_of(interview) == Interview.Status.GUIDED


async def test_a_study_past_the_default_token_budget_sends_new_turns_to_the_guided_form(
    study, interview, participant, fake_llm, llm_settings, settings
):
    settings.MGE_STUDY_TOKEN_BUDGET = 10_000
    await Study.objects.filter(pk=study.pk).aupdate(token_budget=None, tokens_spent=10_000)
    socket = await open_socket(interview, participant)

    await say(socket, "It mattered to me.", "m1")
    frame = await first_frame_of(socket, {"fallback", "error", "reply_end"})
    await socket.disconnect()

    assert (frame["type"], frame["code"]) == ("fallback", "llm_budget")
    assert fake_llm.requests == []
    assert await status_of(interview) == Interview.Status.GUIDED


async def test_a_study_past_its_dollar_cap_sends_new_turns_to_the_guided_form(
    study, interview, participant, fake_llm, llm_settings, settings
):
    settings.MGE_STUDY_SPEND_CAP_USD = 2.0
    await LLMCall.objects.acreate(
        study=study, purpose="dedupe", model="m", cost_usd=Decimal("2.000001")
    )
    socket = await open_socket(interview, participant)

    await say(socket, "It mattered to me.", "m1")
    frame = await first_frame_of(socket, {"fallback", "error", "reply_end"})
    await socket.disconnect()

    assert (frame["type"], frame["code"]) == ("fallback", "llm_budget")
    assert fake_llm.requests == []


def test_the_caps_are_on_by_default():
    assert base.MGE_STUDY_TOKEN_BUDGET > 0
    assert base.MGE_STUDY_SPEND_CAP_USD > 0
    assert base.MGE_INTERVIEW_TOKEN_CAP > 0
    assert base.MGE_LLM_CALLS_PER_MESSAGE > 0


def test_the_overview_shows_the_caps_and_when_they_are_reached(staff, study, settings):
    settings.MGE_STUDY_TOKEN_BUDGET = 1_000
    settings.MGE_STUDY_SPEND_CAP_USD = 25.0
    settings.MGE_INTERVIEW_TOKEN_CAP = 40_000
    settings.MGE_LLM_CALLS_PER_MESSAGE = 3
    Study.objects.filter(pk=study.pk).update(tokens_spent=1_200)

    page = staff.get(reverse("dashboard:overview", args=[study.slug])).content.decode()

    assert "of 1000 tokens (the default budget)" in page
    assert "Study spend cap: 25.00 USD" in page
    assert "Tokens per interview: 40000" in page
    assert "LLM calls per participant message: 3" in page
    assert "Spend cap reached: new interview turns use the guided form." in page
