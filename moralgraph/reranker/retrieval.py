"""Which contexts of the moral graph a prompt is in, or none (abstain).

A prompt is a string or a chat transcript (``[{"role": ..., "content": ...}, ...]``). A
transcript is embedded as ``normalise(w * e(last user turn) + (1 - w) * e(recent transcript))``,
so the turn being answered leads while earlier turns still steer. Each context is embedded as its
name, optionally blended with its top values' card texts (`bundle.bundle_vectors`). The contexts
whose cosine clears ``abstain_below`` are kept (at most ``context_top_n``) and weighted in
proportion to their similarity; when none clears it, the reranker abstains.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bundle import Bundle, BundleVectors
from .config import RerankerConfig

TRANSCRIPT_CHARS = 2000  # the recent end of a transcript; the encoder reads ~256 tokens anyway

Prompt = str | Sequence[dict[str, Any]]


class RerankInputError(ValueError):
    """A prompt or candidate list the reranker cannot read; retrying cannot help."""


@dataclass(frozen=True)
class ContextMatch:
    context_id: str
    name: str
    similarity: float | None  # None when the caller named the context
    weight: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.context_id,
            "name": self.name,
            "similarity": None if self.similarity is None else round(self.similarity, 6),
            "weight": round(self.weight, 6),
        }


def prompt_parts(prompt: Prompt) -> tuple[str, str]:
    """(last user turn, recent transcript); both are the prompt itself for a plain string."""
    if isinstance(prompt, str):
        return prompt, prompt
    if not isinstance(prompt, Sequence) or not prompt:
        raise RerankInputError("prompt must be a string or a non-empty list of messages")
    turns = []
    for at, message in enumerate(prompt):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise RerankInputError(f"prompt message {at} needs a string 'content'")
        turns.append((str(message.get("role", "user")), message["content"]))
    users = [content for role, content in turns if role == "user"]
    transcript = "\n".join(f"{role}: {content}" for role, content in turns)
    last = users[-1] if users else turns[-1][1]
    return last, transcript[-TRANSCRIPT_CHARS:]


def query_vectors(prompts: Sequence[Prompt], encoder: Any, config: RerankerConfig) -> np.ndarray:
    """One normalised query vector per prompt, all encoded in one batch."""
    parts = [prompt_parts(prompt) for prompt in prompts]
    vectors = encoder.encode_texts([text for pair in parts for text in pair])
    last, transcript = vectors[0::2], vectors[1::2]
    mixed = config.last_turn_weight * last + (1 - config.last_turn_weight) * transcript
    return mixed / np.maximum(np.linalg.norm(mixed, axis=1, keepdims=True), 1e-12)


def match_contexts(
    query: np.ndarray, bundle: Bundle, vectors: BundleVectors, config: RerankerConfig
) -> list[ContextMatch]:
    """The best contexts for one query vector, weighted; empty when the reranker abstains."""
    if not vectors.context_ids:
        return []
    similarities = vectors.contexts @ query
    order = sorted(range(len(similarities)), key=lambda i: (-similarities[i], i))
    kept = [i for i in order[: config.context_top_n] if similarities[i] >= config.abstain_below]
    return _weighted(kept, similarities, bundle, vectors)


def forced_contexts(context_ids: Sequence[str], bundle: Bundle) -> list[ContextMatch]:
    """The named contexts, equally weighted, without retrieval (the prompt is not embedded)."""
    if isinstance(context_ids, str) or not isinstance(context_ids, Sequence):
        raise RerankInputError("'contexts' must be a list of context ids")
    unknown = [cid for cid in context_ids if cid not in bundle.contexts]
    if unknown:
        raise RerankInputError(f"unknown context ids: {', '.join(map(str, unknown))}")
    share = 1 / max(len(context_ids), 1)
    return [ContextMatch(cid, bundle.contexts[cid].name, None, share) for cid in context_ids]


def _weighted(
    rows: list[int], similarities: np.ndarray, bundle: Bundle, vectors: BundleVectors
) -> list[ContextMatch]:
    total = float(sum(max(similarities[i], 1e-6) for i in rows))
    return [
        ContextMatch(
            context_id=vectors.context_ids[i],
            name=bundle.contexts[vectors.context_ids[i]].name,
            similarity=float(similarities[i]),
            weight=max(float(similarities[i]), 1e-6) / total,
        )
        for i in rows
    ]
