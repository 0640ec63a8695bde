"""Moderation of text shown to other participants: what is checked, and the LLM judge's
prompt and answer. Pure: no Django, no SDK.

A value founded by a participant's card is shown to voters as its title, description and
policies; a hypothesis as its story. Either waits until a check passes it or the organizer
approves it (:mod:`moralgraph.services`).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from elicitation.llm.errors import LLMOutputInvalid
from elicitation.llm.prompts import Prompt, fence
from elicitation.llm.schemas import load_json_object

from .prompting import render

PROMPT_NAME = "moderation_judge"
NOTE_CHARS = 300


@dataclass(frozen=True)
class Verdict:
    fit: bool
    note: str  # why, in a few words: the judge's reason or the endpoint's categories


def value_text(title: str, description: str, policies: Sequence[str]) -> str:
    """A value as voters read it."""
    lines = "\n".join(f"- {policy}" for policy in policies)
    return f"{title}\n\n{description}\n\n{lines}".strip()


def judge_messages(text: str) -> tuple[list[dict], Prompt]:
    """Instructions, then the text fenced as data."""
    system, prompt = render(PROMPT_NAME)
    user = f"The text to check:\n{fence(text, 'shown')}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], prompt


def parse_judge_answer(text: str) -> Verdict:
    """The judge's verdict. Raises LLMOutputInvalid unless ``fit`` is a yes or a no."""
    data = load_json_object(text)
    fit = _as_bool(data.get("fit"))
    if fit is None:
        raise LLMOutputInvalid('The answer needs "fit": true or false.')
    return Verdict(fit, str(data.get("reason") or "")[:NOTE_CHARS])


def endpoint_verdict(flagged: bool, categories: Sequence[str]) -> Verdict:
    note = "flagged: " + ", ".join(categories) if flagged else "no category flagged"
    return Verdict(not flagged, note[:NOTE_CHARS])


def _as_bool(raw: object) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    return None
