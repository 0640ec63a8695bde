"""Candidate answers guided by the moral graph, for training data. Pure: no Django, no SDK.

A prompt is matched to a context of the bundle; the context's top values become a system
prompt (``prompts/value_guided_answer.md``, participant text fenced as data). A *naive* answer
gets no system prompt at all: the model's default behaviour is the baseline the values should
improve on. :func:`lexical_context` is the retrieval used when the values reranker (which
retrieves by embeddings) is not available.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicitation.llm.prompts import Prompt, fence

from .prompting import render

PROMPT_NAME = "value_guided_answer"
TOP_VALUES = 3

_WORD = re.compile(r"[a-z]+")
# Words every context name or dilemma shares; matching on them would say nothing.
_STOPWORDS = frozenset(
    "a about after all also an and any are as at be been being but by can could do does for "
    "from had has have he her him his how i if in into is it its me my no not of on or our "
    "she should so some that the their them then there they this to too up us user was we "
    "were what when where which while who why will with would you your".split()
)


class PromptFileError(ValueError):
    """The prompts file cannot be read; the message says where and why."""


@dataclass(frozen=True)
class PromptText:
    id: str
    text: str


@dataclass(frozen=True)
class Guidance:
    """The context a prompt was matched to and the values that guide answers in it."""

    context_id: str
    context_name: str
    values: tuple[Any, ...]  # bundle values: .id, .title, .description, .policies

    @property
    def value_ids(self) -> tuple[str, ...]:
        return tuple(value.id for value in self.values)


def guidance_for(bundle: Any, context_id: str, k: int = TOP_VALUES) -> Guidance:
    """The top ``k`` values of ``context_id`` in ``bundle`` (a reranker ``Bundle``)."""
    rows = bundle.top_values(context_id, k)
    values = tuple(bundle.values[row.value_id] for row in rows)
    return Guidance(context_id, bundle.contexts[context_id].name, values)


def guided_messages(prompt: str, guidance: Guidance) -> tuple[list[dict], Prompt]:
    """A system prompt carrying the context and its values, then the user's prompt."""
    blocks = [_value_block(number, value) for number, value in enumerate(guidance.values, 1)]
    system, version = render(
        PROMPT_NAME,
        context=fence(guidance.context_name, "context"),
        values="\n\n".join(blocks),
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}], version


def naive_messages(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def _value_block(number: int, value: Any) -> str:
    policies = "\n".join(f"- {policy}" for policy in value.policies)
    body = f"Title: {value.title}\nDescription: {value.description}\nPolicies:\n{policies}"
    return f"Value {number}:\n{fence(body, 'card')}"


# --- retrieval without embeddings ---


def words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 2}


def lexical_context(prompt: str, bundle: Any, k: int = TOP_VALUES) -> str | None:
    """The context sharing most words with ``prompt`` (cosine of word sets over its name and
    its top values' cards); None when no context shares a word. Ties go to the first id."""
    asked = words(prompt)
    best, best_score = None, 0.0
    for context_id in sorted(bundle.contexts):
        guidance = guidance_for(bundle, context_id, k)
        text = " ".join([guidance.context_name, *(_card(v) for v in guidance.values)])
        known = words(text)
        if not asked or not known:
            continue
        score = len(asked & known) / math.sqrt(len(asked) * len(known))
        if score > best_score:
            best, best_score = context_id, score
    return best


def _card(value: Any) -> str:
    return " ".join([value.title, value.description, *value.policies])


# --- prompt files ---


def read_prompts(path: Path | str, *, limit: int | None = None) -> list[PromptText]:
    """Prompts from ``.jsonl`` rows (``prompt``, optional ``id``) or the DailyDilemmas CSV
    (``dilemma_situation``, id from ``idx``), in file order, at most ``limit``."""
    path = Path(path)
    if limit is not None and limit < 0:
        raise PromptFileError("limit must be 0 or more")
    if path.suffix == ".csv":
        prompts = _csv_prompts(path)
    elif path.suffix in (".jsonl", ".json"):
        prompts = _jsonl_prompts(path)
    else:
        raise PromptFileError(f"{path}: expected a .jsonl or .csv file")
    ids = [p.id for p in prompts]
    if len(set(ids)) != len(ids):
        raise PromptFileError(f"{path}: prompt ids repeat")
    return prompts[:limit] if limit is not None else prompts


def _jsonl_prompts(path: Path) -> list[PromptText]:
    prompts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptFileError(f"{path.name}:{number}: not JSON ({exc.msg})") from None
        text = row.get("prompt") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise PromptFileError(f"{path.name}:{number}: needs a non-empty string 'prompt'")
        prompts.append(PromptText(str(row.get("id", number)), text.strip()))
    return prompts


def _csv_prompts(path: Path) -> list[PromptText]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if "dilemma_situation" not in (reader.fieldnames or ()):
            raise PromptFileError(f"{path.name}: no 'dilemma_situation' column (DailyDilemmas)")
        rows = [
            (row.get("idx") or str(number), row["dilemma_situation"].strip())
            for number, row in enumerate(reader, start=1)
        ]
    return [PromptText(f"dailydilemmas-{idx}", text) for idx, text in rows if text]
