"""Writing the values card from the transcript in one dedicated call.

Used when the interviewer's own card is invalid, when the participant asks for their card, and
when the chat reaches its turn limit. The card is asked for with the strongest structure the
endpoint supports (a JSON-schema response format, else a forced tool call, else JSON in plain
text), validated, and the validator's message is sent back for one more try.
"""

import logging

from django.conf import settings

from . import selectors, services
from .asyncdb import db
from .dialogue import FORCED_TOOL, JSON_SCHEMA, SUBMIT_CARD_TOOL_NAME, Turn, articulation_methods
from .llm.client import CallTag, ChatResult, endpoint_url, stream_chat
from .llm.errors import LLMError, LLMOutputInvalid, LLMRequestRejected, LLMUnavailable
from .llm.prompts import fence, render
from .llm.schemas import (
    CARD_RESPONSE_FORMAT,
    SUBMIT_VALUES_CARD_TOOL,
    CardDraft,
    card_from_text,
)
from .models import Interview

logger = logging.getLogger(__name__)
PROMPT_NAME = "articulator"
ATTEMPTS_PER_METHOD = 2
SPEAKERS = {"user": "Participant", "assistant": "Interviewer"}


async def card_articulate(*, interview: Interview, feedback: str = "") -> CardDraft:
    """A validated card written from the interview so far; `feedback` says what was wrong with
    the last one. Raises LLMOutputInvalid when every try failed validation, or an LLMError."""
    transcript = await db(selectors.interview_transcript)(interview)
    names = await db(selectors.question_context_names)(interview.question)
    messages, tag = _request(interview, transcript, feedback, names)
    base_url, model = endpoint_url(), tag.model or settings.LLM_MODEL
    known = await db(selectors.endpoint_capabilities)(base_url=base_url, model=model)
    methods = articulation_methods(
        json_schema=known.json_schema if known else None,
        forced_tool=known.forced_tool if known else None,
    )
    failure: LLMError | None = None
    for method in methods:
        try:
            return await _articulate_with(method, messages, tag)
        except (LLMRequestRejected, LLMUnavailable) as error:
            if not _may_fall_back(method, known, error):
                raise
            logger.info("articulation by %s failed, falling back: %s", method, error)
            await _learn(base_url, model, method, error)
            failure = error
    raise failure or LLMOutputInvalid("No way to ask for a card was left.")


def conversation_text(transcript: list[Turn]) -> str:
    """The participant's and interviewer's words, one labelled line each, tool traffic left out."""
    lines = [
        f"{SPEAKERS[turn.role]}: {turn.content.strip()}"
        for turn in transcript
        if turn.role in SPEAKERS and turn.content.strip()
    ]
    return "\n".join(lines)


def _request(
    interview: Interview, transcript: list[Turn], feedback: str, contexts: list[str]
) -> tuple[list, CallTag]:
    system, prompt = render(
        PROMPT_NAME,
        question=fence(interview.question.text, "question"),
        contexts=fence("\n".join(contexts) or "(none yet)", "context"),
    )
    ask = fence(conversation_text(transcript), "conversation")
    ask += "\n\nWrite the values card for this participant as one JSON object."
    if feedback:
        ask += f"\nA first draft was not accepted. {feedback}"
    tag = CallTag(
        purpose="card_articulation",
        prompt_name=PROMPT_NAME,
        prompt_version=prompt.version,
        study_id=interview.participant.study_id,
        interview_id=interview.pk,
        model=interview.participant.study.model_name,
    )
    messages = [{"role": "system", "content": system}, {"role": "user", "content": ask}]
    return messages, tag


async def _articulate_with(method: str, messages: list[dict], tag: CallTag) -> CardDraft:
    invalid = LLMOutputInvalid("No card was written.")
    for _ in range(ATTEMPTS_PER_METHOD):
        output = _output(method, await stream_chat(messages, tag=tag, **_options(method)))
        try:
            return card_from_text(output)
        except LLMOutputInvalid as error:
            invalid = error
            messages = [
                *messages,
                {"role": "assistant", "content": output},
                {"role": "user", "content": f"{error}\nWrite the corrected card as JSON."},
            ]
    raise invalid


def _options(method: str) -> dict:
    if method == JSON_SCHEMA:
        return {"response_format": CARD_RESPONSE_FORMAT}
    if method == FORCED_TOOL:
        return {"tools": [SUBMIT_VALUES_CARD_TOOL], "tool_choice": SUBMIT_CARD_TOOL_NAME}
    return {}


def _output(method: str, result: ChatResult) -> str:
    if method == FORCED_TOOL:
        for call in result.tool_calls:
            if call.name == SUBMIT_CARD_TOOL_NAME:
                return call.arguments
    return result.text


def _may_fall_back(method: str, known, error: LLMError) -> bool:
    """A structured method the endpoint was never checked for may be refused (some servers
    answer 500 to a response format they do not know); a checked one failing is a real error."""
    checked = known is not None and getattr(known, method, None) is True
    return method != "json_text" and not checked


async def _learn(base_url: str, model: str, method: str, error: LLMError) -> None:
    if isinstance(error, LLMRequestRejected):
        await db(services.endpoint_capability_learn)(
            base_url=base_url, model=model, name=method, works=False
        )
