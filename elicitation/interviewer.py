"""One interviewer turn: ask the model, stream its words out, store what it said.

Frames go out through `send`, so the same turn runs behind a websocket, a simulated
participant or a test. The participant's message is already stored before a turn starts.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.urls import reverse

from . import costcaps, selectors, services
from .access import WriteRefused
from .asyncdb import db
from .dialogue import (
    CARD_SHOWN_NOTE,
    NothingSaid,
    ProposeCard,
    Reply,
    llm_messages,
    next_step,
    should_fall_back,
    tool_call_record,
)
from .llm.client import CallTag, ChatResult, stream_chat
from .llm.errors import (
    LLMBudgetExceeded,
    LLMError,
    LLMMessageCapReached,
    LLMOutputInvalid,
    LLMStreamInterrupted,
)
from .llm.prompts import fence, render
from .llm.schemas import SUBMIT_VALUES_CARD_TOOL, parse_values_card
from .models import Interview
from .protocol import error_frame

logger = logging.getLogger(__name__)
Send = Callable[[dict], Awaitable[None]]
PROMPT_NAME = "interviewer"


class TurnFailed(Exception):
    def __init__(self, error: LLMError) -> None:
        super().__init__(str(error))
        self.error = error


async def interviewer_turn(interview: Interview, send: Send) -> None:
    """Run one turn; on failure tell the participant plainly and, if needed, fall back."""
    partial: list[str] = []
    try:
        await _answer(interview, send, partial)
    except TurnFailed as failed:
        await _report_failure(interview, send, failed.error)
    except WriteRefused as refused:  # e.g. the study closed while the model was answering
        await send(error_frame(refused.code, refused.message))
    except asyncio.CancelledError:
        if partial:
            await _save_reply(interview, "".join(partial), complete=False)
        raise


async def _answer(interview: Interview, send: Send, partial: list[str]) -> None:
    names = await db(selectors.question_context_names)(interview.question)
    system_prompt, prompt = render(
        PROMPT_NAME,
        question=fence(interview.question.text, "question"),
        contexts=fence("\n".join(names) or "(none yet)", "context"),
    )
    tag = CallTag(
        purpose="interview_turn",
        prompt_name=PROMPT_NAME,
        prompt_version=prompt.version,
        study_id=interview.participant.study_id,
        interview_id=interview.pk,
        model=interview.participant.study.model_name,
    )
    await db(services.interview_prompt_record)(
        interview=interview, model=tag.model or settings.LLM_MODEL, prompt_version=prompt.version
    )

    async def on_text(text: str) -> None:
        partial.append(text)
        await send({"type": "token", "text": text})

    await _within_caps(interview)  # before the typing indicator: a refused turn shows none
    await send({"type": "reply_start"})
    for attempt in range(2):
        if attempt:
            await _within_caps(interview)
        transcript = await db(selectors.interview_transcript)(interview)
        result = await _call_model(llm_messages(system_prompt, transcript), tag, on_text, partial)
        step = next_step(result.text, [(c.id, c.name, c.arguments) for c in result.tool_calls])
        if isinstance(step, Reply):
            await _finish_reply(interview, send, result)
            return
        if isinstance(step, ProposeCard):
            try:
                await _propose_card(interview, send, step, result)
                return
            except LLMOutputInvalid as invalid:
                if attempt == 1:
                    raise TurnFailed(invalid) from invalid
                partial.clear()
                continue
        if isinstance(step, NothingSaid):
            raise TurnFailed(LLMOutputInvalid("The interviewer returned an empty answer."))


async def _within_caps(interview: Interview) -> None:
    try:
        await db(costcaps.interview_cap_check)(interview.pk)
    except LLMError as error:
        raise TurnFailed(error) from error


async def _call_model(
    messages: list[dict], tag: CallTag, on_text: Callable, partial: list[str]
) -> ChatResult:
    try:
        return await stream_chat(
            messages, tag=tag, tools=[SUBMIT_VALUES_CARD_TOOL], on_text=on_text
        )
    except LLMError as error:
        raise TurnFailed(error) from error


async def _finish_reply(interview: Interview, send: Send, result: ChatResult) -> None:
    message = await _save_reply(interview, result.text, complete=True, result=result)
    await db(services.interview_failures_reset)(interview=interview)
    await send(
        {
            "type": "reply_end",
            "message_id": message.pk,
            "content": message.content,
            "complete": True,
        }
    )


async def _propose_card(
    interview: Interview, send: Send, step: ProposeCard, result: ChatResult
) -> None:
    """Store the tool call and, when the card is valid, the draft card; else the error."""
    call = tool_call_record(step.tool_call_id, "submit_values_card", step.arguments)
    message = await _save_reply(
        interview, step.text, complete=True, result=result, tool_calls=[call]
    )
    try:
        draft = parse_values_card(step.arguments)
    except LLMOutputInvalid as invalid:
        await db(services.interview_tool_result_save)(
            interview=interview,
            tool_call_id=step.tool_call_id,
            content=f"The card was not valid, so it was not shown. Fix these problems: {invalid}",
        )
        raise
    await db(services.interview_tool_result_save)(
        interview=interview, tool_call_id=step.tool_call_id, content=CARD_SHOWN_NOTE
    )
    card = await db(services.card_draft_save)(
        interview=interview,
        title=draft.title,
        description=draft.description,
        policies=draft.policies,
        context=draft.context,
    )
    await db(services.interview_failures_reset)(interview=interview)
    if step.text:
        await send(
            {"type": "reply_end", "message_id": message.pk, "content": step.text, "complete": True}
        )
    await send(
        {
            "type": "card",
            "card": await db(selectors.card_as_dict)(card),
            "url": reverse("elicitation:card", kwargs={"pk": interview.pk}),
        }
    )


async def _save_reply(
    interview: Interview,
    text: str,
    *,
    complete: bool,
    result: ChatResult | None = None,
    tool_calls: list[dict] | None = None,
):
    return await db(services.interview_reply_save)(
        interview=interview,
        content=text,
        complete=complete,
        llm_call_id=result.llm_call_id if result else None,
        tokens_in=result.tokens_in if result else 0,
        tokens_out=result.tokens_out if result else 0,
        tool_calls=tool_calls,
    )


async def _report_failure(interview: Interview, send: Send, error: LLMError) -> None:
    logger.warning("interview %s: LLM failure %s: %s", interview.pk, error.code, error)
    if isinstance(error, LLMStreamInterrupted) and error.partial_text:
        message = await _save_reply(interview, error.partial_text, complete=False)
        await send(
            {
                "type": "reply_end",
                "message_id": message.pk,
                "content": error.partial_text,
                "complete": False,
            }
        )
    if isinstance(error, LLMMessageCapReached):
        # Not the model's failure: the participant may write again, so the chat goes on.
        await send(
            {"type": "error", "code": error.code, "message": error.user_message, "retryable": False}
        )
        return
    failures = await db(services.interview_failure_record)(interview=interview)
    threshold = settings.MGE_LLM_FAILURES_BEFORE_FALLBACK
    # A malformed card is worth asking for again; only repeated failures end the chat.
    retryable = error.retryable or isinstance(error, LLMOutputInvalid)
    if should_fall_back(failures, threshold, retryable=retryable):
        await db(services.interview_fall_back)(interview=interview)
        await send(
            {
                "type": "fallback",
                "code": error.code,
                "message": _fallback_message(error),
                "url": reverse("elicitation:guided", kwargs={"pk": interview.pk}),
            }
        )
        return
    await send(
        {"type": "error", "code": error.code, "message": error.user_message, "retryable": True}
    )


def _fallback_message(error: LLMError) -> str:
    if isinstance(error, LLMBudgetExceeded):
        return error.user_message
    return (
        "The interviewer is unavailable right now. Everything you wrote is "
        "saved. You can describe your value in a short guided form instead."
    )
