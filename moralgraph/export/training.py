"""Training rows from scored candidate answers. Pure: no Django, no SDK.

For each prompt the caller gives N candidate answers, each scored (by the values reranker, or
by how it was generated). The best and the worst become a preference pair; a tie between them
gives no pair, since it says nothing about which is better. Three shapes come out:

* TRL's conversational preference format: ``prompt``, ``chosen``, ``rejected`` message lists;
* OpenAI's DPO format: ``input.messages``, ``preferred_output``, ``non_preferred_output``;
* prompt-only rows for reward functions (TRL's GRPO passes extra columns to them).

Every row records the ``graph_version`` of the bundle and the ``scorer_version`` that ranked it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

VALUE_GUIDED = "value_guided"
NAIVE = "naive"
#: Scorer version of :func:`guidance_scores`: the pairing by how answers were generated.
GUIDANCE_SCORER_VERSION = "value-guidance-pairing/1"

FILES = {
    "trl": "preference_trl.jsonl",
    "openai_dpo": "preference_openai_dpo.jsonl",
    "prompts": "prompts.jsonl",
    "candidates": "candidates.jsonl",
}


@dataclass(frozen=True)
class Candidate:
    text: str
    source: str  # how it was produced: VALUE_GUIDED, NAIVE, or a caller's own label
    score: float | None = None
    model: str = ""


@dataclass(frozen=True)
class PromptItem:
    """A prompt, the context retrieved for it (None: retrieval abstained), and candidates."""

    id: str
    prompt: str
    context_id: str | None
    value_ids: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class Versions:
    graph_version: str
    scorer_version: str

    def as_dict(self) -> dict[str, str]:
        return {"graph_version": self.graph_version, "scorer_version": self.scorer_version}


def guidance_scores(candidates: Sequence[Candidate]) -> list[float]:
    """1 for a value-guided answer, 0 for any other: pairs guided against naive answers."""
    return [1.0 if c.source == VALUE_GUIDED else 0.0 for c in candidates]


def with_scores(item: PromptItem, scores: Sequence[float | None]) -> PromptItem:
    if len(scores) != len(item.candidates):
        raise ValueError(f"{len(scores)} scores for {len(item.candidates)} candidates")
    scored = tuple(replace(c, score=s) for c, s in zip(item.candidates, scores, strict=True))
    return replace(item, candidates=scored)


def best_and_worst(
    candidates: Sequence[Candidate], *, min_margin: float = 0.0
) -> tuple[Candidate, Candidate] | None:
    """The highest- and lowest-scored non-empty candidates, or None without a clear gap.

    Ties go to the earlier candidate for best and the later one for worst, so the choice is
    stable. No pair when fewer than two are scored or the gap is not above ``min_margin``.
    """
    usable = [(i, c) for i, c in enumerate(candidates) if c.score is not None and c.text.strip()]
    if len(usable) < 2:
        return None
    best = min(usable, key=lambda ic: (-ic[1].score, ic[0]))[1]  # type: ignore[operator]
    worst = min(usable, key=lambda ic: (ic[1].score, -ic[0]))[1]
    if best.score - worst.score <= min_margin:  # type: ignore[operator]
        return None
    return best, worst


def _user(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def trl_row(item: PromptItem, pair: tuple[Candidate, Candidate], v: Versions) -> dict[str, Any]:
    chosen, rejected = pair
    return {
        "prompt": _user(item.prompt),
        "chosen": _assistant(chosen.text),
        "rejected": _assistant(rejected.text),
        "prompt_id": item.id,
        "context_id": item.context_id,
        "value_ids": list(item.value_ids),
        "chosen_score": chosen.score,
        "rejected_score": rejected.score,
        "chosen_source": chosen.source,
        "rejected_source": rejected.source,
        **v.as_dict(),
    }


def openai_dpo_row(
    item: PromptItem, pair: tuple[Candidate, Candidate], v: Versions
) -> dict[str, Any]:
    chosen, rejected = pair
    metadata = {
        "prompt_id": item.id,
        "context_id": item.context_id,
        "value_ids": list(item.value_ids),
        "preferred_score": chosen.score,
        "non_preferred_score": rejected.score,
        **v.as_dict(),
    }
    return {
        "input": {"messages": _user(item.prompt)},
        "preferred_output": _assistant(chosen.text),
        "non_preferred_output": _assistant(rejected.text),
        "metadata": metadata,
    }


def prompt_row(item: PromptItem, v: Versions) -> dict[str, Any]:
    return {
        "prompt": _user(item.prompt),
        "prompt_id": item.id,
        "context_id": item.context_id,
        "value_ids": list(item.value_ids),
        **v.as_dict(),
    }


def candidate_rows(item: PromptItem, v: Versions) -> list[dict[str, Any]]:
    return [
        {
            "prompt_id": item.id,
            "index": index,
            "source": c.source,
            "text": c.text,
            "score": c.score,
            "model": c.model,
            "context_id": item.context_id,
            **v.as_dict(),
        }
        for index, c in enumerate(item.candidates)
    ]


def training_rows(
    items: Iterable[PromptItem], versions: Versions, *, min_margin: float = 0.0
) -> dict[str, list[dict[str, Any]]]:
    """The rows of every training file (keys of :data:`FILES`), in the order of ``items``."""
    rows: dict[str, list[dict[str, Any]]] = {key: [] for key in FILES}
    for item in items:
        rows["prompts"].append(prompt_row(item, versions))
        rows["candidates"].extend(candidate_rows(item, versions))
        pair = best_and_worst(item.candidates, min_margin=min_margin)
        if pair is not None:
            rows["trl"].append(trl_row(item, pair, versions))
            rows["openai_dpo"].append(openai_dpo_row(item, pair, versions))
    return rows
