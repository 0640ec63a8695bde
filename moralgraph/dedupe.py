"""Which canonical value a confirmed card belongs to. Pure: no Django, no SDK.

The card's embedding c and the study's value embeddings V (one L2-normalised row per value)
give the cosine similarity of the card to value i as s_i = V_i . c. With thresholds
t_candidate < t_same:

* max s_i >= t_same: the card joins the nearest value, no one asked (method "embedding");
* otherwise the values with s_i >= t_candidate, nearest first and at most MAX_CANDIDATES, go
  to a judge that names the one holding the same value, or none (method "llm_judge");
* no candidate, no judge, or a judge that names none: the card becomes a new value ("new").
"""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from elicitation.llm.errors import LLMOutputInvalid
from elicitation.llm.prompts import Prompt
from elicitation.llm.schemas import load_json_object

from .prompting import ValueText, as_id, render, value_block

PROMPT_NAME = "dedupe_judge"
MAX_CANDIDATES = 5
NEW, EMBEDDING, LLM_JUDGE = "new", "embedding", "llm_judge"
_NONE_WORDS = {"", "none", "null"}


@dataclass(frozen=True)
class Candidate:
    value_id: int
    similarity: float


@dataclass(frozen=True)
class Decision:
    method: str
    value_id: int | None = None
    similarity: float | None = None


Judge = Callable[[list[Candidate]], int | None]


def nearest(
    vector: np.ndarray,
    matrix: np.ndarray,
    value_ids: Sequence[int],
    *,
    floor: float,
    limit: int = MAX_CANDIDATES,
) -> list[Candidate]:
    """The values at least `floor` similar to `vector`, nearest first (ties: lower id first)."""
    if not len(value_ids):
        return []
    similarities = matrix @ vector
    order = np.lexsort((np.asarray(value_ids), -similarities))[:limit]
    return [
        Candidate(int(value_ids[i]), float(similarities[i]))
        for i in order
        if similarities[i] >= floor
    ]


def decide(
    candidates: Sequence[Candidate], *, same_threshold: float, judge: Judge | None = None
) -> Decision:
    """Link, ask, or create: see the module docstring. `candidates` come from `nearest`."""
    if not candidates:
        return Decision(NEW)
    top = candidates[0]
    if top.similarity >= same_threshold:
        return Decision(EMBEDDING, top.value_id, top.similarity)
    if judge is None:
        return Decision(NEW)
    chosen = judge(list(candidates))
    similarity = {c.value_id: c.similarity for c in candidates}
    if chosen not in similarity:
        return Decision(NEW)
    return Decision(LLM_JUDGE, chosen, similarity[chosen])


def judge_messages(card: ValueText, candidates: Sequence[ValueText]) -> tuple[list[dict], Prompt]:
    """The judge's instructions, then the new card and the candidates fenced as data."""
    system, prompt = render(PROMPT_NAME)
    blocks = [value_block(card, "The new card:")]
    blocks += [value_block(value, f"Candidate {value.id}:") for value in candidates]
    user = "\n\n".join(blocks)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], prompt


def parse_judge_answer(text: str, candidate_ids: Collection[int]) -> int | None:
    """The candidate id the judge named, or None; LLMOutputInvalid says what was wrong."""
    data = load_json_object(text)
    if "match" not in data:
        raise LLMOutputInvalid('The answer needs a "match" field: a candidate id, or null.')
    raw = data["match"]
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in _NONE_WORDS):
        return None
    value_id = as_id(raw)
    if value_id not in candidate_ids:
        allowed = ", ".join(str(i) for i in sorted(candidate_ids))
        raise LLMOutputInvalid(
            f'"match" must be one of the candidate ids ({allowed}) or null; got {raw!r}.'
        )
    return value_id


def greedy_groups(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Group label per row, as the embedding-only path would assign cards arriving in order.

    Each row joins the group whose first member (the value it created) is nearest, when that
    similarity is at least `threshold`; otherwise it starts a new group.
    """
    labels = np.empty(len(vectors), dtype=np.int64)
    founders: list[np.ndarray] = []
    for row, vector in enumerate(vectors):
        similarities = np.asarray(founders) @ vector if founders else np.empty(0)
        best = int(np.argmax(similarities)) if len(similarities) else -1
        if best >= 0 and similarities[best] >= threshold:
            labels[row] = best
        else:
            labels[row] = len(founders)
            founders.append(vector)
    return labels


def adjusted_rand_index(first: Sequence[int], second: Sequence[int]) -> float:
    """Agreement of two groupings of the same items, corrected for chance (Hubert & Arabie).

    With n_ij the items in group i of `first` and group j of `second`, a_i and b_j the group
    sizes, and C(x) = x(x-1)/2 pairs:
        index = sum C(n_ij),  expected = sum C(a_i) * sum C(b_j) / C(n)
        ARI = (index - expected) / ((sum C(a_i) + sum C(b_j)) / 2 - expected)
    1 for identical groupings, about 0 for random ones. Two identical trivial groupings give 1.
    """
    _, a = np.unique(np.asarray(first), return_inverse=True)
    _, b = np.unique(np.asarray(second), return_inverse=True)
    if len(a) != len(b):
        raise ValueError("Both groupings must label the same items.")
    table = np.zeros((a.max(initial=-1) + 1, b.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    index = _pairs(table).sum()
    rows, columns = _pairs(table.sum(axis=1)).sum(), _pairs(table.sum(axis=0)).sum()
    expected = rows * columns / _pairs(np.array(len(a))) if len(a) > 1 else 0.0
    ceiling = (rows + columns) / 2
    if ceiling == expected:
        return 1.0
    return float((index - expected) / (ceiling - expected))


def _pairs(counts: np.ndarray) -> np.ndarray:
    return counts * (counts - 1) / 2
