"""One interviewer turn: ask the model, stream its words out, store what it said.

Frames go out through `send`, so the same turn runs behind a websocket, a simulated
participant or a test. The participant's message is already stored before a turn starts.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from django.urls import reverse

from . import costcaps, selectors, services
from .access import WriteRefused
from .articulation import card_articulate
from .asyncdb import db
from .dialogue import (
    CARD_REJECTED_NOTE,
    CARD_SHOWN_NOTE,
    SUBMIT_CARD_TOOL_NAME,
    CardInProse,
    CardToolNamed,
    ProposeCard,
    Reply,
    llm_messages,
    next_step,
    should_fall_back,
    tool_call_record,
    turn_limit_reached,
)
from .llm.client import CallTag, ChatResult, endpoint_url, stream_chat
from .llm.errors import (
    LLMBudgetExceeded,
    LLMError,
    LLMMessageCapReached,
    LLMOutputInvalid,
    LLMStreamInterrupted,
)
from .llm.prompts import fence, render
from .llm.schemas import SUBMIT_VALUES_CARD_TOOL, CardDraft, parse_values_card
from .models import Interview
from .protocol import error_frame

logger = logging.getLogger(__name__)
Send = Callable[[dict], Awaitable[None]]
PROMPT_NAME = "interviewer"


class TurnFailed(Exception):
    def __init__(self, error: LLMError) -> None:
        super().__init__(str(error))
        self.error = error


CLOSING_NOTE = (
    "Thank you, that gives me a good picture of what matters to you. Here is a draft of your "
    "values card: please check it and change anything that is not quite right."
)


async def interviewer_turn(interview: Interview, send: Send, *, make_card: bool = False) -> None:
    """Run one turn; on failure tell the participant plainly and, if needed, fall back.

    `make_card`: the participant asked for their card, so it is written now from the chat.
    """
    partial: list[str] = []
    try:
        await _answer(interview, send, partial, make_card=make_card)
    except TurnFailed as failed:
        await _report_failure(interview, send, failed.error)
    except WriteRefused as refused:  # e.g. the study closed while the model was answering
        await send(error_frame(refused.code, refused.message))
    except asyncio.CancelledError:
        if partial:
            await _save_reply(interview, "".join(partial), complete=False)
        raise


async def _answer(interview: Interview, send: Send, partial: list[str], *, make_card: bool) -> None:
    transcript = await db(selectors.interview_transcript)(interview)
    limit = interview.participant.study.max_participant_messages
    if make_card or turn_limit_reached(transcript, limit):
        await _within_caps(interview)
        await send({"type": "reply_start"})
        await _articulate(interview, send, closing=CLOSING_NOTE)
        return
    model = interview.participant.study.model_name or settings.LLM_MODEL
    tools = await db(_interviewer_tools)(model)
    names = await db(selectors.question_context_names)(interview.question)
    system_prompt, version = system_prompt_render(interview.question.text, names, bool(tools))
    tag = CallTag(
        purpose="interview_turn",
        prompt_name=PROMPT_NAME,
        prompt_version=version,
        study_id=interview.participant.study_id,
        interview_id=interview.pk,
        model=interview.participant.study.model_name,
    )
    await db(services.interview_prompt_record)(
        interview=interview, model=model, prompt_version=version
    )

    async def on_text(text: str) -> None:
        partial.append(text)
        await send({"type": "token", "text": text})

    await _within_caps(interview)  # before the typing indicator: a refused turn shows none
    await send({"type": "reply_start"})
    result = await _call_model(llm_messages(system_prompt, transcript), tag, tools, on_text)
    step = next_step(result.text, [(c.id, c.name, c.arguments) for c in result.tool_calls])
    if isinstance(step, Reply):
        await _finish_reply(interview, send, result)
    elif isinstance(step, ProposeCard):
        await _propose_card(interview, send, step, result)
    elif isinstance(step, CardInProse):
        await _card_from_prose(interview, send, step, result)
    elif isinstance(step, CardToolNamed):  # the model meant to write the card: write it
        await _articulate(interview, send, closing=CLOSING_NOTE)
    else:
        raise TurnFailed(LLMOutputInvalid("The interviewer returned an empty answer."))


def system_prompt_render(question: str, contexts: list[str], with_tool: bool) -> tuple[str, str]:
    """The interviewer's system prompt and its version. With the card tool it carries the card
    rules and the question's contexts; without, it sends the participant to "Make my card"."""
    if with_tool:
        ending, part = render(
            "interviewer_card_tool", contexts=fence("\n".join(contexts) or "(none yet)", "context")
        )
    else:
        ending, part = render("interviewer_card_button")
    text, prompt = render(PROMPT_NAME, question=fence(question, "question"), ending=ending.rstrip())
    return text, f"{prompt.version}+{part.name.removeprefix('interviewer_')}-{part.version}"


def _interviewer_tools(model: str) -> list[dict]:
    """The card tool, unless the endpoint was found not to take tools: the card then comes
    from prose detection, "Make my card" or the turn limit."""
    known = selectors.endpoint_capabilities(base_url=endpoint_url(), model=model)
    return [] if known is not None and known.tools is False else [SUBMIT_VALUES_CARD_TOOL]


async def _within_caps(interview: Interview) -> None:
    try:
        await db(costcaps.interview_cap_check)(interview.pk)
    except LLMError as error:
        raise TurnFailed(error) from error


async def _call_model(
    messages: list[dict], tag: CallTag, tools: list[dict], on_text: Callable
) -> ChatResult:
    try:
        return await stream_chat(messages, tag=tag, tools=tools or None, on_text=on_text)
    except LLMError as error:
        raise TurnFailed(error) from error


async def _finish_reply(interview: Interview, send: Send, result: ChatResult) -> None:
    message = await _save_reply(interview, result.text, complete=True, result=result)
    await db(services.interview_failures_reset)(interview=interview)
    await _send_reply_end(send, message.pk, message.content)


async def _send_reply_end(send: Send, message_id: int, content: str, *, more: bool = False) -> None:
    """`more`: the turn goes on (a card is being written), so it does not end here."""
    frame = {"type": "reply_end", "message_id": message_id, "content": content, "complete": True}
    await send(frame | {"more": True} if more else frame)


async def _propose_card(
    interview: Interview, send: Send, step: ProposeCard, result: ChatResult
) -> None:
    """Store the tool call and show its card; an invalid one is written again by articulation."""
    call = tool_call_record(step.tool_call_id, SUBMIT_CARD_TOOL_NAME, step.arguments)
    message = await _save_reply(
        interview, step.text, complete=True, result=result, tool_calls=[call]
    )
    try:
        draft = parse_values_card(step.arguments)
    except LLMOutputInvalid as invalid:
        await db(services.interview_tool_result_save)(
            interview=interview,
            tool_call_id=step.tool_call_id,
            content=f"{CARD_REJECTED_NOTE} Fix these problems: {invalid}",
        )
        if step.text:
            await _send_reply_end(send, message.pk, step.text, more=True)
        await _articulate(interview, send, feedback=str(invalid))
        return
    await db(services.interview_tool_result_save)(
        interview=interview, tool_call_id=step.tool_call_id, content=CARD_SHOWN_NOTE
    )
    if step.text:
        await _send_reply_end(send, message.pk, step.text)
    await _show_card(interview, send, draft)


async def _card_from_prose(
    interview: Interview, send: Send, step: CardInProse, result: ChatResult
) -> None:
    """A card written out in the reply: kept as said, then turned into a draft to review."""
    message = await _save_reply(interview, step.text, complete=True, result=result)
    try:
        draft = parse_values_card(json.dumps(step.fields))
    except LLMOutputInvalid as invalid:
        await _send_reply_end(send, message.pk, step.text, more=True)
        await _articulate(interview, send, feedback=str(invalid))
        return
    await _send_reply_end(send, message.pk, step.text, more=True)
    await _show_card(interview, send, draft)


async def _articulate(
    interview: Interview, send: Send, *, feedback: str = "", closing: str = ""
) -> None:
    """Write the card in a dedicated call; `closing` is said to the participant first."""
    try:
        draft = await card_articulate(interview=interview, feedback=feedback)
    except LLMError as error:
        raise TurnFailed(error) from error
    if closing:
        message = await _save_reply(interview, closing, complete=True)
        await _send_reply_end(send, message.pk, closing)
    await _show_card(interview, send, draft)


async def _show_card(interview: Interview, send: Send, draft: CardDraft) -> None:
    card = await db(services.card_draft_save)(
        interview=interview,
        title=draft.title,
        description=draft.description,
        policies=draft.policies,
        context=draft.context,
    )
    await db(services.interview_failures_reset)(interview=interview)
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
