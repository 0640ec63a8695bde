"""Ending the interview: articulation, "Make my card", the turn limit, cards in prose, retry."""

import json

import pytest

from elicitation import services
from elicitation.models import Interview, LLMEndpoint, Message
from tests.fakes.openai_server import SAMPLE_CARD, Error, Reply, ToolCallReply
from tests.integration.test_interview_socket import connect, receive_until, say

pytestmark = pytest.mark.django_db(transaction=True)
PROSE_CARD = """Thank you for sharing. Here is your values card:

**Title:** Grounded Personal Discernment

**Description:** Helping someone find their own footing by staying close to what they feel.

**Policies:**
1. FEELINGS of unease that point to something not yet said
2. MOMENTS when the person speaks about the choice in their own words
3. OPPORTUNITIES for the person to hear their own reasons out loud

**Context:** When the user is facing a hard personal decision
"""


@pytest.fixture
def interview(participant, question) -> Interview:
    return services.interview_start(participant=participant, question=question)


async def opened(interview, participant):
    communicator = await connect(interview, participant)
    history = await communicator.receive_json_from(timeout=5)
    return communicator, history


async def test_retry_after_a_rejected_card_asks_again_and_a_reload_offers_it(
    interview, participant, fake_llm, llm_settings
):
    bad = json.dumps({**SAMPLE_CARD, "policies": ["be nice"]})
    fake_llm.script(
        ToolCallReply("submit_values_card", bad),
        Reply(bad),  # articulation, first try
        Reply(bad),  # articulation, with the validator's message
        ToolCallReply("submit_values_card", json.dumps(SAMPLE_CARD)),
    )
    communicator, _ = await opened(interview, participant)
    await say(communicator, "Here is my story.", "m1")
    error = (await receive_until(communicator, "error"))[-1]
    assert (error["code"], error["retryable"]) == ("llm_output_invalid", True)
    await communicator.disconnect()

    communicator, history = await opened(interview, participant)
    assert history["awaiting_reply"] is True
    await communicator.send_json_to({"type": "retry"})
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert frames[-1]["card"]["title"] == SAMPLE_CARD["title"]
    assert fake_llm.requests[-1]["messages"][-1]["role"] == "tool"


async def test_make_my_card_is_refused_before_enough_messages(
    interview, participant, fake_llm, llm_settings
):
    communicator, history = await opened(interview, participant)
    assert history["make_card_after"] == 3
    await say(communicator, "One thing.", "m1")
    await receive_until(communicator, "reply_end")

    await communicator.send_json_to({"type": "make_card"})
    frame = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()

    assert (frame["type"], frame["code"]) == ("error", "too_early")
    assert len(fake_llm.requests) == 1


async def test_make_my_card_writes_the_card_from_the_chat(
    interview, participant, fake_llm, llm_settings
):
    communicator, _ = await opened(interview, participant)
    for number in range(3):
        await say(communicator, f"Part {number} of my story.", f"m{number}")
        await receive_until(communicator, "reply_end")
    fake_llm.script(Reply(json.dumps(SAMPLE_CARD)))

    await communicator.send_json_to({"type": "make_card"})
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert [f["type"] for f in frames] == ["reply_start", "reply_end", "card"]
    assert frames[-1]["card"]["context"] == SAMPLE_CARD["context"]
    sent = fake_llm.requests[-1]
    assert sent["response_format"]["json_schema"]["name"] == "values_card"
    assert "Participant: Part 2 of my story." in sent["messages"][-1]["content"]
    assert "tools" not in sent


async def test_the_turn_limit_ends_the_chat_with_a_card_instead_of_another_question(
    interview, participant, fake_llm, llm_settings, study
):
    study.max_participant_messages = 2
    await study.asave(update_fields=["max_participant_messages"])
    communicator, _ = await opened(interview, participant)
    await say(communicator, "First.", "m1")
    await receive_until(communicator, "reply_end")
    fake_llm.script(Reply(json.dumps(SAMPLE_CARD)))

    await say(communicator, "Second.", "m2")
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert "Here is a draft of your values card" in frames[-2]["content"]
    assert len(fake_llm.requests) == 2
    assert "response_format" in fake_llm.requests[-1]


async def test_a_card_written_as_prose_becomes_a_draft_without_another_call(
    interview, participant, fake_llm, llm_settings
):
    fake_llm.script(Reply(PROSE_CARD))
    communicator, _ = await opened(interview, participant)
    await say(communicator, "Here is my story.", "m1")
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert frames[-2]["content"] == PROSE_CARD
    assert frames[-1]["card"]["policies"] == [
        "FEELINGS of unease that point to something not yet said",
        "MOMENTS when the person speaks about the choice in their own words",
        "OPPORTUNITIES for the person to hear their own reasons out loud",
    ]
    assert len(fake_llm.requests) == 1


async def test_an_incomplete_prose_card_is_completed_by_articulation(
    interview, participant, fake_llm, llm_settings
):
    prose = "Your card:\n**Title:** Care\n**Description:** Being there."
    fake_llm.script(Reply(prose), Reply(json.dumps(SAMPLE_CARD)))
    communicator, _ = await opened(interview, participant)
    await say(communicator, "Here is my story.", "m1")
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert frames[-1]["card"]["title"] == SAMPLE_CARD["title"]
    assert "The title has 1 words" in fake_llm.requests[-1]["messages"][-1]["content"]
    [reply_end] = [f for f in frames if f["type"] == "reply_end"]
    assert reply_end["more"] is True  # the turn, and its lock, last until the card is written


async def test_a_refused_response_format_falls_back_to_a_forced_tool_and_is_remembered(
    interview, participant, fake_llm, llm_settings
):
    fake_llm.script(
        ToolCallReply("submit_values_card", json.dumps({**SAMPLE_CARD, "title": "x"})),
        Error(400),
        ToolCallReply("submit_values_card", json.dumps(SAMPLE_CARD)),
    )
    communicator, _ = await opened(interview, participant)
    await say(communicator, "Here is my story.", "m1")
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert frames[-1]["card"]["title"] == SAMPLE_CARD["title"]
    forced = fake_llm.requests[-1]
    assert forced["tool_choice"] == {
        "type": "function",
        "function": {"name": "submit_values_card"},
    }
    endpoint = await LLMEndpoint.objects.aget(model="fake-model")
    assert endpoint.json_schema is False


async def test_a_checked_endpoint_without_structure_gets_json_in_plain_text(
    interview, participant, fake_llm, llm_settings
):
    await LLMEndpoint.objects.acreate(
        base_url=fake_llm.base_url, model="fake-model", json_schema=False, forced_tool=False
    )
    communicator, _ = await opened(interview, participant)
    for number in range(3):
        await say(communicator, f"Part {number}.", f"m{number}")
        await receive_until(communicator, "reply_end")
    fake_llm.script(Reply("Sure! ```json\n" + json.dumps(SAMPLE_CARD) + "\n``` Hope it helps."))
    await communicator.send_json_to({"type": "make_card"})
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert frames[-1]["card"]["title"] == SAMPLE_CARD["title"]
    sent = fake_llm.requests[-1]
    assert "response_format" not in sent and "tools" not in sent
    last = await Message.objects.filter(interview=interview).order_by("id").alast()
    assert (last.role, last.content) == ("assistant", frames[-2]["content"])


async def test_card_requests_share_the_participants_message_rate(
    interview, participant, fake_llm, llm_settings, monkeypatch
):
    asked = []

    def allow(key, *, per_minute):
        asked.append(key)
        return len(asked) == 1  # the first message passes, then the rate is spent

    monkeypatch.setattr("elicitation.consumers.throttle.allow", allow)
    communicator, _ = await opened(interview, participant)
    await say(communicator, "First.", "m1")
    await receive_until(communicator, "reply_end")

    await communicator.send_json_to({"type": "make_card"})
    frame = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()

    assert (frame["type"], frame["code"]) == ("error", "rate_limited")
    assert asked == [f"chat:{participant.pk}"] * 2
    assert len(fake_llm.requests) == 1


async def test_a_message_sent_while_the_card_is_being_written_is_refused_as_busy(
    interview, participant, fake_llm, llm_settings
):
    fake_llm.token_delay = 0.05
    prose = "Your card:\n**Title:** Care\n**Description:** Being there."
    fake_llm.script(Reply(prose), Reply(json.dumps(SAMPLE_CARD)))
    communicator, _ = await opened(interview, participant)
    await say(communicator, "Here is my story.", "m1")
    await receive_until(communicator, "reply_end")

    await say(communicator, "Are you there?", "m2")
    frames = await receive_until(communicator, "card")
    await communicator.disconnect()

    assert {"type": "error", "code": "busy"}.items() <= frames[0].items()
    assert not await Message.objects.filter(content="Are you there?").aexists()
