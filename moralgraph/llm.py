"""Asking the model for a structured answer: one call, and one retry that shows it the error."""

import logging
from collections.abc import Callable
from typing import TypeVar

from elicitation.llm.client import CallTag, ChatResult, chat
from elicitation.llm.errors import LLMOutputInvalid

from .prompting import JSON_OBJECT

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: Tokens a structured answer may run to: a verdict or a vote with its reason is far shorter.
STRUCTURED_MAX_TOKENS = 512


def ask_structured(
    messages: list[dict],
    *,
    tag: CallTag,
    parse: Callable[[str], T],
    max_tokens: int = STRUCTURED_MAX_TOKENS,
) -> T:
    """`parse(answer)`; an answer it rejects, or one cut off at `max_tokens`, is sent back once
    with the reason.

    Raises LLMOutputInvalid when the second answer fails too, and the client's LLMErrors
    (retryable or not) as they come.
    """
    ask = {"tag": tag, "response_format": JSON_OBJECT, "max_tokens": max_tokens}
    result = chat(messages, **ask)
    try:
        return _parsed(result, parse, max_tokens)
    except LLMOutputInvalid as invalid:
        logger.info("%s answer rejected, asking once more: %s", tag.purpose, invalid)
        retry = [
            *messages,
            {"role": "assistant", "content": result.text},
            {"role": "user", "content": f"{invalid}\nReply again with the corrected JSON object."},
        ]
    return _parsed(chat(retry, **ask), parse, max_tokens)


def _parsed(result: ChatResult, parse: Callable[[str], T], max_tokens: int) -> T:
    if result.finish_reason == "length":
        raise LLMOutputInvalid(
            f"Your answer was cut off at {max_tokens} tokens before the JSON object ended. "
            "Keep it shorter."
        )
    return parse(result.text)
