"""Canonical contexts: the few shared "When ..." phrases a question's values are compared in.
Pure: no Django, no SDK.

A context an interview writes in new words is matched like a card is deduplicated (see
`dedupe`): embeddings of short phrases first, then a judge for the uncertain band. The model can
also propose a question's first contexts; `parse_proposals` keeps the usable ones.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from elicitation.llm.errors import LLMOutputInvalid
from elicitation.llm.prompts import Prompt, fence
from elicitation.llm.schemas import load_json_object

from .prompting import render

JUDGE_PROMPT = "context_judge"
PROPOSALS_PROMPT = "context_proposals"
WORDS = (2, 12)
MAX_CHARS = 100
MAX_PROPOSALS = 8


@dataclass(frozen=True)
class ContextText:
    """A context as the model sees it."""

    id: int
    name: str


def normalise(name: str) -> str:
    """One spacing, no closing full stop, a capital "When": the form contexts are stored in."""
    text = " ".join(name.split()).rstrip(".").strip()
    if text[:4].lower() == "when":
        text = "When" + text[4:]
    return text


def name_problem(name: str) -> str | None:
    """Why `name` (normalised) cannot be a context, in words for the model; None if it can."""
    low, high = WORDS
    if not name.startswith("When "):
        return f"{name!r} must start with 'When'"
    if not low <= len(name.split()) <= high or len(name) > MAX_CHARS:
        return f"{name!r} must have {low} to {high} words and at most {MAX_CHARS} characters"
    return None


def judge_messages(
    new: ContextText, candidates: Sequence[ContextText]
) -> tuple[list[dict], Prompt]:
    """The judge's instructions, then the new context and the candidates fenced as data."""
    system, prompt = render(JUDGE_PROMPT)
    blocks = [f"The new context:\n{fence(new.name, 'context')}"]
    blocks += [f"Candidate {c.id}:\n{fence(c.name, 'context')}" for c in candidates]
    user = "\n\n".join(blocks)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], prompt


def proposals_messages(question: str, existing: Iterable[str]) -> tuple[list[dict], Prompt]:
    """Instructions, then the question and the contexts it has already, fenced as data."""
    system, prompt = render(PROPOSALS_PROMPT)
    listed = "\n".join(existing) or "(none yet)"
    user = (
        f"The question:\n{fence(question, 'question')}\n\n"
        f"Contexts already listed:\n{fence(listed, 'context')}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], prompt


def parse_proposals(text: str, existing: Iterable[str] = ()) -> list[str]:
    """The usable, new, distinct contexts of the answer, normalised, at most MAX_PROPOSALS.

    Raises LLMOutputInvalid when the answer is not `{"contexts": [...]}` or none is usable.
    """
    items = load_json_object(text).get("contexts")
    if not isinstance(items, list) or not items:
        raise LLMOutputInvalid('The answer needs a non-empty "contexts" list of strings.')
    known = {name.lower() for name in existing}
    kept, problems = [], []
    for item in items:
        name = normalise(item) if isinstance(item, str) else ""
        problem = name_problem(name) if name else "every context must be a string"
        if problem is not None:
            problems.append(problem)
        elif name.lower() not in known:
            known.add(name.lower())
            kept.append(name)
    if problems and not kept:
        raise LLMOutputInvalid("No context could be used: " + "; ".join(problems) + ".")
    return kept[:MAX_PROPOSALS]
