"""Class 7 of issue 9, replayed: text and ids a participant sends that must never be stored."""

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.urls import reverse

from elicitation import services
from elicitation.models import Interview, LLMCall, Message, ValuesCard, WisdomVote
from elicitation.turnlock import _key as turn_key
from tests.fakes.openai_server import Reply
from tests.security.support import (
    browser,
    confirmed_card,
    open_socket,
    say,
    send_raw_message,
)

pytestmark = pytest.mark.django_db(transaction=True)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff \u3164"


@pytest.fixture
def interview(participant, question) -> Interview:
    return services.interview_start(participant=participant, question=question)


@database_sync_to_async
def participant_messages(interview: Interview) -> list[str]:
    return list(interview.messages.filter(role=Message.Role.USER).values_list("content", flat=True))


@database_sync_to_async
def llm_calls() -> int:
    return LLMCall.objects.count()


async def test_a_lone_surrogate_is_refused_and_the_turn_lock_is_free(
    interview, participant, fake_llm, llm_settings
):
    fake_llm.script(Reply("Tell me more."))
    before = await participant_messages(interview)
    socket = await open_socket(interview, participant)

    await send_raw_message(socket, '"I think \\ud800 so"')

    refusal = await socket.receive_json_from(timeout=5)
    assert refusal["type"] == "error"
    assert refusal["code"] == "bad_text"
    assert "broken character" in refusal["message"]
    assert await participant_messages(interview) == before
    assert cache.get(turn_key(interview.pk)) is None
    await say(socket, "A fair question, honestly.", "m2")
    assert (await socket.receive_json_from(timeout=5))["type"] == "ack"
    await socket.disconnect()


@pytest.mark.parametrize("content", ['"a\\u0000b"', '"bell \\u0007 here"', '"esc \\u001b[2J"'])
async def test_nul_and_control_characters_in_a_chat_frame_are_refused(
    interview, participant, llm_settings, content
):
    before = await participant_messages(interview)
    socket = await open_socket(interview, participant)

    await send_raw_message(socket, content)

    refusal = await socket.receive_json_from(timeout=5)
    assert (refusal["type"], refusal["code"]) == ("error", "bad_text")
    assert "control characters" in refusal["message"]
    assert await participant_messages(interview) == before
    await socket.disconnect()


async def test_a_message_of_zero_width_characters_starts_no_llm_turn(
    interview, participant, fake_llm, llm_settings
):
    before = await participant_messages(interview)
    socket = await open_socket(interview, participant)

    await say(socket, ZERO_WIDTH, "m1")

    refusal = await socket.receive_json_from(timeout=5)
    assert (refusal["type"], refusal["code"]) == ("error", "empty_message")
    assert await participant_messages(interview) == before
    assert fake_llm.requests == []
    assert await llm_calls() == 0
    await socket.disconnect()


async def test_a_fault_while_storing_a_message_releases_the_turn_lock_at_once(
    interview, participant, llm_settings, monkeypatch
):
    def database_fault(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "interview_message_add", database_fault)
    socket = await open_socket(interview, participant)

    await say(socket, "Something I care about.", "m1")
    with pytest.raises(RuntimeError):
        await socket.receive_output(timeout=5)

    assert cache.get(turn_key(interview.pk)) is None


def test_a_guided_card_of_zero_width_characters_is_refused(participant, interview):
    data = {
        "title": ZERO_WIDTH,
        "description": ZERO_WIDTH,
        "context": "When the user is facing a hard personal decision",
        "policies": f"{ZERO_WIDTH}\n\u200b\n\u2060\n",
    }

    response = browser(participant).post(
        reverse("elicitation:guided", kwargs={"pk": interview.pk}), data
    )

    assert response.status_code == 200
    assert "Please write something" in response.content.decode()
    assert not ValuesCard.objects.filter(interview=interview).exists()


def test_policies_made_of_invisible_lines_do_not_count(participant, interview):
    data = {
        "title": "Finding Her Own Footing",
        "description": "Helping someone hear what they already feel about their choice.",
        "context": "When the user is facing a hard personal decision",
        "policies": "FEELINGS that point to what she wants\n\u200b\u200d\n\ufeff\n",
    }

    response = browser(participant).post(
        reverse("elicitation:guided", kwargs={"pk": interview.pk}), data
    )

    assert response.status_code == 200
    assert not ValuesCard.objects.filter(interview=interview).exists()


def test_control_characters_in_a_card_edit_are_refused(participant, interview):
    card = services.card_draft_save(
        interview=interview,
        title="Grounded Personal Discernment",
        description="Staying close to what she feels.",
        policies=["FEELINGS of unease", "MOMENTS of clarity", "OPPORTUNITIES to reflect"],
        context="When the user is facing a hard personal decision",
    )
    data = {
        "title": "Grounded\x08\x08 Discernment",
        "description": "Staying close to what she feels.",
        "context": card.context.name,
        "policies": "\n".join(card.policies),
    }

    response = browser(participant).post(
        reverse("elicitation:card", kwargs={"pk": interview.pk}), data
    )

    assert response.status_code == 200
    assert "control characters" in response.content.decode()
    card.refresh_from_db()
    assert card.title == "Grounded Personal Discernment"


def test_an_out_of_range_hypothesis_id_in_a_vote_is_refused_not_a_server_error(
    participant, question
):
    confirmed_card(participant, question)
    data = {"hypothesis": str(2**70), "answer": "wiser", "reason": "", "client_id": "c-1"}

    response = browser(participant).post(
        reverse("elicitation:vote", kwargs={"slug": participant.study.slug}), data
    )

    assert response.status_code in (302, 400)
    assert not WisdomVote.objects.exists()


def test_an_out_of_range_interview_id_in_a_url_is_not_found(participant):
    response = browser(participant).get(f"/interview/{10**30}/card/")

    assert response.status_code == 404
