"""Asking the model for a structured answer: one call, and one retry that shows it the error."""

import logging
from collections.abc import Callable
from typing import TypeVar

from elicitation.llm.client import CallTag, chat
from elicitation.llm.errors import LLMOutputInvalid

from .prompting import JSON_OBJECT

logger = logging.getLogger(__name__)

T = TypeVar("T")


def ask_structured(messages: list[dict], *, tag: CallTag, parse: Callable[[str], T]) -> T:
    """`parse(answer)`; an answer it rejects is sent back once with the reason.

    Raises LLMOutputInvalid when the second answer fails too, and the client's LLMErrors
    (retryable or not) as they come.
    """
    result = chat(messages, tag=tag, response_format=JSON_OBJECT)
    try:
        return parse(result.text)
    except LLMOutputInvalid as invalid:
        logger.info("%s answer rejected, asking once more: %s", tag.purpose, invalid)
        retry = [
            *messages,
            {"role": "assistant", "content": result.text},
            {"role": "user", "content": f"{invalid}\nReply again with the corrected JSON object."},
        ]
    return parse(chat(retry, tag=tag, response_format=JSON_OBJECT).text)
