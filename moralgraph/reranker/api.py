"""`rerank(prompt, candidates, bundle, config)`: score N candidate responses against the graph.

Steps (SPEC section 7): embed the prompt, retrieve its contexts (or abstain), score each
candidate against the top values of those contexts (soft max over response chunks), subtract the
values the winner supersedes, and return the scores with a per-value, per-policy breakdown. The
maths is in `scoring`; this module wires it up and batches the model calls of many prompts.
"""

import json
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bundle import Bundle, bundle_vectors
from .chunking import Chunks, chunk_candidates
from .config import RerankerConfig
from .retrieval import (
    ContextMatch,
    Prompt,
    RerankInputError,
    forced_contexts,
    match_contexts,
    prompt_parts,
    query_vectors,
)
from .scoring import reference_scores, score_context


@dataclass(frozen=True)
class RerankResult:
    scores: list[float]
    breakdown: list[dict[str, Any]]  # one per candidate
    contexts: list[dict[str, Any]]
    abstained: bool
    scorer_version: str
    graph_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": self.scores,
            "breakdown": self.breakdown,
            "contexts": self.contexts,
            "abstained": self.abstained,
            "scorer_version": self.scorer_version,
            "graph_version": self.graph_version,
        }


class Reranker:
    """A bundle, a config and a loaded encoder; the bundle's vectors are computed on creation."""

    def __init__(
        self, bundle: Bundle, config: RerankerConfig | None = None, encoder: Any = None
    ) -> None:
        self.bundle = bundle
        self.config = config or RerankerConfig()
        if encoder is None:
            from .encoder import ChunkEncoder

            encoder = ChunkEncoder(self.config.device, self.config.effective_batch_size)
        self.encoder = encoder
        self.vectors = bundle_vectors(bundle, encoder, self.config)
        self._lock = threading.Lock()  # one forward pass at a time (torch threads are shared)

    def rerank(
        self, prompt: Prompt, candidates: Sequence[str], *, contexts: Sequence[str] | None = None
    ) -> RerankResult:
        """Scores for `candidates`; `contexts` (ids) skips retrieval and scores in those."""
        return self.rerank_many([(prompt, candidates)], contexts=[contexts])[0]

    def rerank_many(
        self,
        items: Sequence[tuple[Prompt, Sequence[str]]],
        *,
        contexts: Sequence[Sequence[str] | None] | None = None,
    ) -> list[RerankResult]:
        """Score many (prompt, candidates) items with one encoder pass for all their chunks.

        `contexts`, one entry per item, names the context ids to score an item in; None (for
        the item, or for all) retrieves them from the prompt.
        """
        chosen = list(contexts) if contexts is not None else [None] * len(items)
        if len(chosen) != len(items):
            raise RerankInputError("give one contexts entry per item")
        for prompt, candidates in items:
            prompt_parts(prompt)  # raises on an unreadable prompt, retrieved or not
            _check_candidates(candidates)
        with self._lock:
            matches = self._matches([prompt for prompt, _ in items], chosen)
            return self._score(items, matches)

    def _matches(
        self, prompts: list[Prompt], chosen: list[Sequence[str] | None]
    ) -> list[list[ContextMatch]]:
        """Retrieval for the items without named contexts (only their prompts are embedded)."""
        matches = [forced_contexts(ids, self.bundle) if ids is not None else [] for ids in chosen]
        open_items = [i for i, ids in enumerate(chosen) if ids is None]
        queries = query_vectors([prompts[i] for i in open_items], self.encoder, self.config)
        for i, query in zip(open_items, queries, strict=True):
            matches[i] = match_contexts(query, self.bundle, self.vectors, self.config)
        return matches

    def _score(
        self, items: Sequence[tuple[Prompt, Sequence[str]]], matches: list[list[ContextMatch]]
    ) -> list[RerankResult]:
        live = [i for i, found in enumerate(matches) if found and items[i][1]]
        texts = [text for i in live for text in items[i][1]]
        chunks = chunk_candidates(texts, self.encoder.tokenizer, self.config)
        chunk_vectors = self.encoder.encode_ids(chunks.ids)
        results: dict[int, RerankResult] = {}
        first = 0
        for i in live:
            count = len(items[i][1])
            part = chunks.select(first, first + count)
            rows = slice(int(chunks.bounds[first]), int(chunks.bounds[first + count]))
            results[i] = self._result(matches[i], part, chunk_vectors[rows])
            first += count
        return [results.get(i) or self._empty(items[i][1], matches[i]) for i in range(len(items))]

    def _result(
        self, matches: list[ContextMatch], chunks: Chunks, vectors: np.ndarray
    ) -> RerankResult:
        config = self.config
        reference = reference_scores(
            vectors, chunks, self.vectors.policies, config.chunk_temperature
        )
        totals = np.zeros(len(chunks.texts))
        per_candidate: list[list[dict]] = [[] for _ in chunks.texts]
        for match in matches:
            scored = score_context(
                bundle=self.bundle,
                vectors=self.vectors,
                context_id=match.context_id,
                chunks=chunks,
                chunk_vectors=vectors,
                reference=reference,
                config=config,
            )
            totals += match.weight * scored.totals
            for c, values in enumerate(scored.breakdown):
                per_candidate[c].append(
                    {
                        **match.as_dict(),
                        "score": _r(scored.totals[c]),
                        "hubness": _r(scored.hubness[c]),
                        "values": values,
                    }
                )
        return RerankResult(
            scores=[_r(total) for total in totals],
            breakdown=[
                {"score": _r(total), "truncated": cut, "contexts": contexts}
                for total, cut, contexts in zip(
                    totals, chunks.truncated, per_candidate, strict=True
                )
            ],
            contexts=[match.as_dict() for match in matches],
            abstained=False,
            scorer_version=config.version,
            graph_version=self.bundle.graph_version,
        )

    def _empty(self, candidates: Sequence[str], matches: list[ContextMatch]) -> RerankResult:
        """Abstention (no context matched), or no candidates: every score is 0."""
        return RerankResult(
            scores=[0.0] * len(candidates),
            breakdown=[{"score": 0.0, "contexts": []} for _ in candidates],
            contexts=[match.as_dict() for match in matches],
            abstained=not matches,
            scorer_version=self.config.version,
            graph_version=self.bundle.graph_version,
        )


_rerankers: "weakref.WeakKeyDictionary[Bundle, dict[RerankerConfig, Reranker]]" = (
    weakref.WeakKeyDictionary()
)
_rerankers_lock = threading.Lock()


def rerank(
    prompt: Prompt,
    candidates: Sequence[str],
    bundle: Bundle,
    config: RerankerConfig | None = None,
    *,
    contexts: Sequence[str] | None = None,
) -> RerankResult:
    """Score `candidates` for `prompt`; the reranker for (bundle, config) is built once."""
    return get_reranker(bundle, config).rerank(prompt, candidates, contexts=contexts)


def get_reranker(bundle: Bundle, config: RerankerConfig | None = None) -> Reranker:
    config = config or RerankerConfig()
    with _rerankers_lock:
        per_bundle = _rerankers.setdefault(bundle, {})
        if config not in per_bundle:
            per_bundle[config] = Reranker(bundle, config)
        return per_bundle[config]


def parse_row(row: Any) -> tuple[Prompt, list[str]]:
    """The prompt and candidates of an input row ``{"id", "prompt", "candidates"}``."""
    if not isinstance(row, dict):
        raise RerankInputError("row must be a JSON object")
    if "prompt" not in row:
        raise RerankInputError("row has no 'prompt'")
    candidates = row.get("candidates")
    _check_candidates(candidates)
    return row["prompt"], list(candidates)


def rerank_lines(
    reranker: Reranker, lines: Iterable[str], *, batch_rows: int = 16
) -> Iterator[dict[str, Any]]:
    """Output rows for JSONL input lines, in order; a bad line yields a row with an "error".

    Rows are scored `batch_rows` at a time so the encoder sees large batches.
    """
    pending: list[tuple[int, Any]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            pending.append((number, line))
        if len(pending) >= batch_rows:
            yield from _rerank_batch(reranker, pending)
            pending = []
    yield from _rerank_batch(reranker, pending)


def _rerank_batch(reranker: Reranker, pending: list[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    parsed: list[tuple[int, Any, Any]] = []  # (line number, row, items or error)
    for number, line in pending:
        row = None
        try:
            row = json.loads(line)
            parsed.append((number, row, parse_row(row)))
        except (json.JSONDecodeError, RerankInputError) as exc:
            parsed.append((number, row, RerankInputError(f"line {number}: {exc}")))
    good = [entry for entry in parsed if not isinstance(entry[2], Exception)]
    results = iter(_rerank_each(reranker, good))
    for number, row, item in parsed:
        outcome = item if isinstance(item, Exception) else next(results)
        yield _output_row(number, row, outcome, reranker)


def _rerank_each(reranker: Reranker, good: list[tuple[int, Any, Any]]) -> list[Any]:
    """Results for the parsed rows; if the batch fails, each row again on its own."""
    try:
        return list(reranker.rerank_many([item for _, _, item in good]))
    except RerankInputError:
        pass
    outcomes: list[Any] = []
    for number, _, (prompt, candidates) in good:
        try:
            outcomes.append(reranker.rerank(prompt, candidates))
        except RerankInputError as exc:
            outcomes.append(RerankInputError(f"line {number}: {exc}"))
    return outcomes


def _output_row(number: int, row: Any, outcome: Any, reranker: Reranker) -> dict[str, Any]:
    base = dict(row) if isinstance(row, dict) else {}
    if isinstance(outcome, Exception):
        return {
            **base,
            "line": number,
            "error": str(outcome),
            "scorer_version": reranker.config.version,
            "graph_version": reranker.bundle.graph_version,
        }
    return {**base, **outcome.to_dict()}


def _check_candidates(candidates: Any) -> None:
    if not isinstance(candidates, list | tuple) or not all(isinstance(c, str) for c in candidates):
        raise RerankInputError("'candidates' must be a list of strings")


def _r(number: float) -> float:
    return round(float(number), 6)
