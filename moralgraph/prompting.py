"""Shared pieces of the moral-graph prompts: loading them and showing values as fenced data.
Pure: no Django, no SDK. The model's JSON answers are read by elicitation.llm.schemas.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elicitation.llm.prompts import Prompt, fence, render_from

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
JSON_OBJECT = {"type": "json_object"}


@dataclass(frozen=True)
class ValueText:
    """A card or canonical value as the model sees it."""

    id: int
    title: str
    description: str
    policies: Sequence[str]


def render(name: str, /, **values: str) -> tuple[str, Prompt]:
    """Fill a prompt from `moralgraph/prompts/`; every `$placeholder` must be given."""
    return render_from(PROMPTS_DIR, name, **values)


def value_block(value: ValueText, heading: str) -> str:
    """`heading`, then the value's fields fenced as data the model must not obey."""
    policies = "\n".join(f"- {policy}" for policy in value.policies)
    body = f"Title: {value.title}\nDescription: {value.description}\nPolicies:\n{policies}"
    return f"{heading}\n{fence(body, 'card')}"


def as_id(raw: object) -> int | None:
    """An id the model wrote as a number or a string of digits, maybe after the label the
    prompt put before it ("Candidate 5", "Value 5", "#5"); None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    found = _LABELLED_ID.fullmatch(raw.strip()) if isinstance(raw, str) else None
    return int(found.group(1)) if found else None


_LABELLED_ID = re.compile(r"(?:(?:candidate|value|id)\s*)?#?\s*(\d+)", re.IGNORECASE)
