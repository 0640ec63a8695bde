"""Shared pieces of the moral-graph prompts: loading them, showing values as fenced data, and
reading the model's JSON answer. Pure: no Django, no SDK.
"""

import json
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elicitation.llm.errors import LLMOutputInvalid
from elicitation.llm.prompts import Prompt, fence, load_prompt

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
JSON_OBJECT = {"type": "json_object"}

_CODE_FENCE = re.compile(r"\A```(?:json)?\s*\n(.*?)\n?```\Z", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class ValueText:
    """A card or canonical value as the model sees it."""

    id: int
    title: str
    description: str
    policies: Sequence[str]


def render(name: str, /, **values: str) -> tuple[str, Prompt]:
    """Fill a prompt from `moralgraph/prompts/`; every `$placeholder` must be given."""
    prompt = load_prompt(name, PROMPTS_DIR)
    try:
        return string.Template(prompt.template).substitute(values), prompt
    except KeyError as missing:
        raise KeyError(f"Prompt {name!r} needs a value for ${missing.args[0]}.") from None


def value_block(value: ValueText, heading: str) -> str:
    """`heading`, then the value's fields fenced as data the model must not obey."""
    policies = "\n".join(f"- {policy}" for policy in value.policies)
    body = f"Title: {value.title}\nDescription: {value.description}\nPolicies:\n{policies}"
    return f"{heading}\n{fence(body, 'card')}"


def load_json_object(text: str) -> dict:
    """The JSON object in the model's answer; a ```json fence around it is tolerated."""
    stripped = text.strip()
    if match := _CODE_FENCE.match(stripped):
        stripped = match[1].strip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise LLMOutputInvalid(f"The answer was not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise LLMOutputInvalid("The answer must be a single JSON object.")
    return data


def as_id(raw: object) -> int | None:
    """An id the model wrote as a number or a string of digits; None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None
