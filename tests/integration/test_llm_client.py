"""The LLM client through the real `openai` SDK, against the fake server over real HTTP."""

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async

from elicitation.llm.client import CallTag, ToolCall, chat, is_configured, stream_chat
from elicitation.llm.errors import (
    LLMBudgetExceeded,
    LLMNotConfigured,
    LLMRequestRejected,
    LLMStreamInterrupted,
    LLMUnavailable,
)
from elicitation.llm.schemas import SUBMIT_VALUES_CARD_TOOL
from elicitation.models import LLMCall, Study
from tests.fakes.fixtures import llm_settings  # noqa: F401
from tests.fakes.openai_server import Disconnect, Error, Hang, Reply, ToolCallReply

pytestmark = [pytest.mark.usefixtures("llm_settings"), pytest.mark.django_db(transaction=True)]

TAG = CallTag(purpose="interview_turn", prompt_name="interviewer", prompt_version="1-abc")
MESSAGES = [
    {"role": "system", "content": "You are an interviewer."},
    {"role": "user", "content": "I want to talk about honesty."},
]
CARD_JSON = (
    Path(__file__).resolve().parent.parent / "fixtures" / "llm" / "submit_values_card_valid.json"
).read_text()


class Collector:
    def __init__(self) -> None:
        self.pieces: list[str] = []

    async def __call__(self, delta: str) -> None:
        self.pieces.append(delta)


async def llm_calls() -> list[LLMCall]:
    return await sync_to_async(list)(LLMCall.objects.order_by("id"))


async def test_streamed_text_reaches_the_callback_piece_by_piece_in_order(fake_llm):
    fake_llm.script(Reply("Tell me about a time that felt right."))
    received = Collector()

    result = await stream_chat(MESSAGES, tag=TAG, on_text=received)

    assert received.pieces == ["Tell ", "me ", "about ", "a ", "time ", "that ", "felt ", "right."]
    assert result.text == "Tell me about a time that felt right."
    assert result.tool_calls == []
    assert result.finish_reason == "stop"
    [row] = await llm_calls()
    assert (result.llm_call_id, row.attempts, row.error) == (row.id, 1, "")


async def test_the_request_carries_messages_tools_model_and_usage_option(fake_llm):
    tag = CallTag("interview_turn", "interviewer", "1-abc", model="study-model")

    await stream_chat(MESSAGES, tag=tag, tools=[SUBMIT_VALUES_CARD_TOOL])

    [sent] = fake_llm.requests
    assert sent["messages"] == MESSAGES
    assert sent["tools"] == [SUBMIT_VALUES_CARD_TOOL]
    assert sent["model"] == "study-model"
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["tool_choice"] == "auto"
    assert fake_llm.request_headers[0]["authorization"] == "Bearer sk-test"


async def test_a_tool_call_is_reassembled_from_its_fragments(fake_llm):
    fake_llm.script(ToolCallReply("submit_values_card", CARD_JSON, text_before="Thank you. "))
    received = Collector()

    result = await stream_chat(MESSAGES, tag=TAG, tools=[SUBMIT_VALUES_CARD_TOOL], on_text=received)

    [call] = result.tool_calls
    assert isinstance(call, ToolCall)
    assert call.id.startswith("call_")
    assert (call.name, call.arguments) == ("submit_values_card", CARD_JSON)
    assert result.text == "Thank you. "
    assert result.finish_reason == "tool_calls"


async def test_invalid_tool_arguments_are_returned_raw(fake_llm):
    fake_llm.script(ToolCallReply("submit_values_card", '{"title": "Half'))

    result = await stream_chat(MESSAGES, tag=TAG, tools=[SUBMIT_VALUES_CARD_TOOL])

    assert result.tool_calls[0].arguments == '{"title": "Half'


async def test_a_rate_limit_is_retried_and_recorded_as_two_attempts_in_one_row(fake_llm):
    fake_llm.script(Error(429), Reply("Hello again."))

    result = await stream_chat(MESSAGES, tag=TAG)

    assert result.text == "Hello again."
    assert len(fake_llm.requests) == 2
    [row] = await llm_calls()
    assert (row.attempts, row.error) == (2, "")


async def test_retry_after_is_honoured(fake_llm):
    fake_llm.script(Error(429, retry_after=0.3), Reply("Hello again."))

    started = time.monotonic()
    await stream_chat(MESSAGES, tag=TAG)

    assert time.monotonic() - started >= 0.3


async def test_server_errors_past_the_retry_limit_make_the_llm_unavailable(fake_llm, settings):
    fake_llm.script(*[Error(500)] * (settings.LLM_MAX_RETRIES + 1), Reply("too late"))

    with pytest.raises(LLMUnavailable) as caught:
        await stream_chat(MESSAGES, tag=TAG)

    assert caught.value.code == "llm_unavailable"
    assert caught.value.retryable
    assert len(fake_llm.requests) == settings.LLM_MAX_RETRIES + 1
    [row] = await llm_calls()
    assert caught.value.llm_call_id == row.id
    assert row.attempts == settings.LLM_MAX_RETRIES + 1
    assert row.error.startswith("llm_unavailable: The model API failed after 3 attempt(s)")


async def test_a_bad_key_is_rejected_without_retrying(fake_llm):
    fake_llm.script(Error(401), Reply("never sent"))

    with pytest.raises(LLMRequestRejected) as caught:
        await stream_chat(MESSAGES, tag=TAG)

    assert (caught.value.code, caught.value.retryable) == ("llm_rejected", False)
    assert "401" in str(caught.value)
    assert len(fake_llm.requests) == 1


async def test_a_server_that_hangs_times_out_and_is_retried(fake_llm, settings):
    settings.LLM_STREAM_IDLE_SECONDS = 0.3
    fake_llm.script(Hang(5), Reply("Sorry for the wait."))

    result = await stream_chat(MESSAGES, tag=TAG)

    assert result.text == "Sorry for the wait."
    [row] = await llm_calls()
    assert row.attempts == 2


async def test_a_stream_that_goes_quiet_between_chunks_fails_after_the_idle_timeout(
    fake_llm, settings
):
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_STREAM_IDLE_SECONDS = 0.2
    fake_llm.token_delay = 0.5

    with pytest.raises(LLMUnavailable, match="No part of the reply arrived for 0.2 s"):
        await stream_chat(MESSAGES, tag=TAG)

    [row] = await llm_calls()
    assert "No part of the reply arrived" in row.error


async def test_a_slow_first_token_within_the_idle_timeout_is_waited_for(fake_llm, settings):
    settings.LLM_STREAM_IDLE_SECONDS = 1.0
    settings.LLM_TIMEOUT_SECONDS = 0.1  # a non-streamed call's limit does not cut streams
    fake_llm.token_delay = 0.3

    result = await stream_chat(MESSAGES, tag=TAG)

    assert result.text.startswith("You said:")


async def test_a_stream_that_keeps_trickling_fails_after_the_total_timeout(fake_llm, settings):
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_STREAM_IDLE_SECONDS = 1.0
    settings.LLM_STREAM_TOTAL_SECONDS = 0.5
    fake_llm.token_delay = 0.1
    fake_llm.script(Reply("word " * 40))
    received = Collector()

    with pytest.raises(LLMStreamInterrupted, match="longer than 0.5 s in all") as caught:
        await stream_chat(MESSAGES, tag=TAG, on_text=received)

    assert caught.value.partial_text == "".join(received.pieces)
    assert 0 < len(received.pieces) < 40


async def test_a_forced_tool_is_named_in_tool_choice(fake_llm):
    fake_llm.script(ToolCallReply("submit_values_card", CARD_JSON))

    await stream_chat(
        MESSAGES, tag=TAG, tools=[SUBMIT_VALUES_CARD_TOOL], tool_choice="submit_values_card"
    )

    assert fake_llm.requests[0]["tool_choice"] == {
        "type": "function",
        "function": {"name": "submit_values_card"},
    }


async def test_without_tools_no_tool_choice_is_sent(fake_llm):
    await stream_chat(MESSAGES, tag=TAG)

    assert "tool_choice" not in fake_llm.requests[0]
    assert "tools" not in fake_llm.requests[0]


async def test_every_call_caps_its_answer_and_a_runaway_stops_at_the_cap(fake_llm, settings):
    settings.LLM_MAX_OUTPUT_TOKENS = 50
    fake_llm.script(Reply("\n " * 5_000), Reply("\n " * 5_000))

    streamed = await stream_chat(MESSAGES, tag=TAG)
    whole = await sync_to_async(chat)(MESSAGES, tag=TAG, max_tokens=20)

    assert [r["max_tokens"] for r in fake_llm.requests] == [50, 20]
    assert (streamed.finish_reason, whole.finish_reason) == ("length", "length")
    assert len(whole.text) < len(streamed.text) < 5_000


async def test_a_stream_cut_after_text_was_shown_raises_with_the_partial_text(fake_llm):
    fake_llm.script(Disconnect(after_chunks=2, text="I hear that this matters"), Reply("retry"))
    received = Collector()

    with pytest.raises(LLMStreamInterrupted) as caught:
        await stream_chat(MESSAGES, tag=TAG, on_text=received)

    assert caught.value.partial_text == "I hear "
    assert caught.value.code == "llm_interrupted"
    assert received.pieces == ["I ", "hear "]
    assert len(fake_llm.requests) == 1
    [row] = await llm_calls()
    assert row.error.startswith("llm_interrupted:")


async def test_a_stream_cut_before_any_text_was_shown_is_retried(fake_llm):
    fake_llm.script(Disconnect(after_chunks=2), Reply("Complete answer."))

    result = await stream_chat(MESSAGES, tag=TAG)

    assert result.text == "Complete answer."
    assert len(fake_llm.requests) == 2


async def test_a_spent_budget_refuses_the_call_without_any_request(fake_llm):
    study = await Study.objects.acreate(slug="s", title="S", token_budget=100, tokens_spent=100)

    with pytest.raises(LLMBudgetExceeded) as caught:
        await stream_chat(MESSAGES, tag=CallTag("interview_turn", "interviewer", "1", study.id))

    assert caught.value.code == "llm_budget"
    assert fake_llm.requests == []


async def test_a_budget_not_yet_spent_lets_the_call_through(fake_llm):
    study = await Study.objects.acreate(slug="s", title="S", token_budget=100, tokens_spent=99)

    await stream_chat(MESSAGES, tag=CallTag("interview_turn", "interviewer", "1", study.id))

    assert len(fake_llm.requests) == 1


async def test_each_call_adds_its_tokens_to_the_study_total(fake_llm):
    study = await Study.objects.acreate(slug="s", title="S", tokens_spent=5)
    fake_llm.script(Reply("Fine.", usage=(30, 12)))

    await stream_chat(MESSAGES, tag=CallTag("interview_turn", "interviewer", "1", study.id))

    await study.arefresh_from_db()
    assert study.tokens_spent == 5 + 30 + 12


async def test_without_url_or_key_the_client_is_not_configured(fake_llm, settings):
    settings.LLM_BASE_URL = None
    settings.LLM_API_KEY = None

    with pytest.raises(LLMNotConfigured):
        await stream_chat(MESSAGES, tag=TAG)

    assert not is_configured()
    assert fake_llm.requests == []


async def test_a_base_url_alone_is_enough_for_local_servers(fake_llm, settings):
    settings.LLM_API_KEY = None

    await stream_chat(MESSAGES, tag=TAG)

    assert fake_llm.request_headers[0]["authorization"] == "Bearer not-needed"


async def test_a_model_without_a_price_records_its_tokens_and_no_cost(fake_llm):
    tag = CallTag("interview_turn", "interviewer", "1-abc", model="qwen2.5-coder-1.5b")
    fake_llm.script(Reply("Hello.", usage=(1000, 500)))

    await stream_chat(MESSAGES, tag=tag)

    [row] = await llm_calls()
    assert (row.tokens_in, row.tokens_out, row.cost_usd) == (1000, 500, None)


async def test_tokens_cost_and_tags_are_recorded(fake_llm):
    study = await Study.objects.acreate(slug="s", title="S")
    tag = CallTag("dedupe_judge", "dedupe", "2-def", study_id=study.id)
    fake_llm.script(Reply("Same value.", usage=(1000, 500)))

    result = await stream_chat(MESSAGES, tag=tag)

    [row] = await llm_calls()
    assert (result.tokens_in, result.tokens_out) == (1000, 500)
    assert (row.tokens_in, row.tokens_out) == (1000, 500)
    assert row.cost_usd == Decimal("0.007500")  # 1000 * $2.5/M + 500 * $10/M
    assert (row.purpose, row.prompt_name, row.prompt_version) == ("dedupe_judge", "dedupe", "2-def")
    assert (row.study_id, row.model) == (study.id, "fake-model")
    assert row.latency_ms >= 0


async def test_tokens_are_estimated_when_the_server_reports_no_usage(fake_llm):
    fake_llm.script(Reply("x" * 40, chunk_chars=10, omit_usage=True))

    result = await stream_chat(MESSAGES, tag=TAG)

    assert result.tokens_out == 10
    assert result.tokens_in == len(json.dumps(MESSAGES)) // 4


async def test_a_cancelled_turn_still_leaves_its_row(fake_llm):
    fake_llm.script(Hang(5))
    turn = asyncio.create_task(stream_chat(MESSAGES, tag=TAG))
    await asyncio.sleep(0.2)

    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn

    [row] = await llm_calls()
    assert row.error.startswith("cancelled")


def test_sync_chat_returns_the_whole_reply_after_retrying(fake_llm):
    fake_llm.script(Error(503), ToolCallReply("submit_values_card", CARD_JSON, "Here."))

    result = chat(MESSAGES, tag=TAG, tools=[SUBMIT_VALUES_CARD_TOOL])

    assert result.text == "Here."
    assert result.tool_calls[0].arguments == CARD_JSON
    assert result.finish_reason == "tool_calls"
    row = LLMCall.objects.get()
    assert (result.llm_call_id, row.attempts) == (row.id, 2)
    assert row.tokens_in > 0


def test_sync_chat_passes_the_response_format_through(fake_llm):
    response_format = {"type": "json_object"}

    chat(MESSAGES, tag=TAG, response_format=response_format)

    assert fake_llm.requests[0]["response_format"] == response_format
    assert "stream" not in fake_llm.requests[0]


def test_sync_chat_sends_a_forced_tool_choice(fake_llm):
    fake_llm.script(ToolCallReply("submit_values_card", CARD_JSON))

    chat(MESSAGES, tag=TAG, tools=[SUBMIT_VALUES_CARD_TOOL], tool_choice="submit_values_card")

    assert fake_llm.requests[0]["tool_choice"]["function"] == {"name": "submit_values_card"}


def test_sync_chat_gives_up_on_a_bad_request(fake_llm):
    fake_llm.script(Error(400))

    with pytest.raises(LLMRequestRejected):
        chat(MESSAGES, tag=TAG)

    assert LLMCall.objects.get().error.startswith("llm_rejected")
