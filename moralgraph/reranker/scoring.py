"""How well each candidate enacts a context's top values: pure NumPy over unit vectors.

For candidate c with chunks j, policy p (vector p~ = normalise(e(p) + a * e(anchor words of p)))
and context k:

    s_jp   = cos(chunk_j, p~) * echo_jp                       echo_jp in [1 - eta, 1]
    S_cp   = tau * log mean_j exp(s_jp / tau)                  soft max over c's chunks (tau=0: max)
    h_ck   = mean_{r in R_k} S_cr                               the candidate's "hubness"
    V_cv   = pool_{p in v} (S_cp - beta * h_ck)                 mean, or softmax-weighted
    C_ck   = sum_{v in top_k(k)} w_v V_cv - lambda * mean_{u in superseded(k)} V_cu
    score_c = sum_k omega_k C_ck                                 omega: retrieval weights

`w_v` are the context's ranking scores over its top values, normalised to sum to 1 (uniform when
none is positive). `superseded(k)` are the values with a kept edge into the context's winner; they
are left out of top_k(k).
R_k is every policy in the bundle except those of context k's top and superseded values, so the
reference is never the target itself. The hubness term removes what a candidate
shares with policies at large (being long, on topic or generic), so a score says how much more the
candidate enacts *these* values than the bundle's others; a bundle with no other policy has no
correction.
`echo_jp` discounts a chunk that repeats a policy's wording instead of acting on it: with o the
share of the policy's consecutive word pairs found in the chunk, echo = 1 - eta * clip((o - o0) /
(1 - o0), 0, 1). Word pairs, not words: a reply that uses the policy's words in its own sentences
is enacting it, one that copies its phrases is quoting it.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .bundle import Bundle, BundleVectors
from .chunking import Chunks
from .config import RerankerConfig

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class PolicyScores:
    """S (candidates x policies) and, for the breakdown, the best chunk of each pair."""

    scores: np.ndarray
    best_chunk: np.ndarray  # absolute chunk row


def word_pairs(text: str) -> frozenset[tuple[str, ...]]:
    """The text's consecutive word pairs (single words for a one-word text), lowercased."""
    words = _WORD.findall(text.lower())
    if len(words) < 2:
        return frozenset((word,) for word in words)
    return frozenset(zip(words, words[1:], strict=False))


def echo_factors(
    chunk_texts: Sequence[str], policies: Sequence[str], config: RerankerConfig
) -> np.ndarray:
    """(chunks, policies) multipliers in [1 - echo_penalty, 1]: 1 unless a chunk quotes."""
    factors = np.ones((len(chunk_texts), len(policies)), dtype=np.float32)
    if not config.echo_penalty or not policies:
        return factors
    wanted = [word_pairs(policy) for policy in policies]
    index: dict[tuple[str, ...], list[int]] = {}
    for col, pairs in enumerate(wanted):
        for pair in pairs:
            index.setdefault(pair, []).append(col)
    sizes = np.asarray([max(len(pairs), 1) for pairs in wanted], dtype=np.float32)
    span = max(1.0 - config.echo_overlap, 1e-6)
    for row, text in enumerate(chunk_texts):
        shared = np.zeros(len(policies), dtype=np.float32)
        for pair in word_pairs(text):  # cost follows the chunk, not the number of policies
            for col in index.get(pair, ()):
                shared[col] += 1
        excess = np.clip((shared / sizes - config.echo_overlap) / span, 0.0, 1.0)
        factors[row] = 1.0 - config.echo_penalty * excess
    return factors


def pool_chunks(similarities: np.ndarray, bounds: np.ndarray, temperature: float) -> PolicyScores:
    """Soft max over each candidate's chunk rows: tau * log mean exp(s / tau); tau=0 is the max.

    Every candidate must own at least one row (`chunking.chunk_candidates` guarantees it).
    """
    starts = bounds[:-1]
    sims = similarities.astype(np.float64)
    top = np.maximum.reduceat(sims, starts, axis=0)
    owner = np.repeat(np.arange(len(starts)), np.diff(bounds))
    rows = np.arange(len(sims))[:, None]
    best = np.minimum.reduceat(np.where(sims == top[owner], rows, len(sims)), starts, axis=0)
    if temperature <= 0:
        return PolicyScores(top, best)
    mean_exp = np.add.reduceat(np.exp((sims - top[owner]) / temperature), starts, axis=0)
    mean_exp /= np.diff(bounds)[:, None]
    return PolicyScores(top + temperature * np.log(mean_exp), best)


def policy_scores(
    chunk_vectors: np.ndarray,
    chunks: Chunks,
    policy_vectors: np.ndarray,
    policies: Sequence[str],
    config: RerankerConfig,
) -> PolicyScores:
    """S_cp for every candidate c and policy p, echo discount included."""
    similarities = chunk_vectors @ policy_vectors.T
    if config.echo_penalty and len(policies):
        texts = [chunks.text(row, owner) for row, owner in enumerate(_owners(chunks))]
        # A chunk that quotes any policy being scored is quoting, not acting on, all of them.
        factors = echo_factors(texts, policies, config).min(axis=1, keepdims=True)
        similarities = similarities - np.clip(similarities, 0, None) * (1 - factors)
    return pool_chunks(similarities, chunks.bounds, config.chunk_temperature)


def reference_scores(
    chunk_vectors: np.ndarray, chunks: Chunks, reference: np.ndarray, temperature: float
) -> np.ndarray:
    """S_cr for every candidate and reference policy (no echo discount): (candidates, refs)."""
    return pool_chunks(chunk_vectors @ reference.T, chunks.bounds, temperature).scores


def hubness(reference: np.ndarray, exclude: Sequence[int]) -> np.ndarray:
    """h_c: each candidate's mean over the reference columns not excluded (0 if none is left)."""
    keep = np.ones(reference.shape[1], dtype=bool)
    keep[list(exclude)] = False
    if not keep.any():
        return np.zeros(reference.shape[0])
    return reference[:, keep].mean(axis=1)


def pool_policies(scores: np.ndarray, config: RerankerConfig) -> np.ndarray:
    """V_cv from the (candidates x policies) block of one value: mean or softmax-weighted."""
    if scores.shape[1] == 0:
        return np.zeros(scores.shape[0])
    if config.policy_pooling == "mean":
        return scores.mean(axis=1)
    logits = scores / config.policy_temperature
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (weights * scores).sum(axis=1) / weights.sum(axis=1)


def value_weights(scores: Sequence[float]) -> np.ndarray:
    """Ranking scores normalised to sum to 1; uniform when none is positive."""
    positive = np.clip(np.asarray(scores, dtype=np.float64), 0, None)
    if positive.sum() <= 0:
        return np.full(len(positive), 1 / max(len(positive), 1))
    return positive / positive.sum()


@dataclass(frozen=True)
class ContextScores:
    totals: np.ndarray  # C_ck per candidate
    hubness: np.ndarray  # h_ck per candidate
    breakdown: list[list[dict]]  # per candidate, one entry per value


def score_context(
    *,
    bundle: Bundle,
    vectors: BundleVectors,
    context_id: str,
    chunks: Chunks,
    chunk_vectors: np.ndarray,
    reference: np.ndarray,
    config: RerankerConfig,
) -> ContextScores:
    """C_ck for every candidate, with each candidate's per-value, per-policy breakdown.

    `reference` is `reference_scores` over all of the bundle's policies (`vectors.policies`).
    """
    roles = _weighted_values(bundle, context_id, config)
    policies = sorted({p for value_id, _, _ in roles for p in bundle.values[value_id].policies})
    rows = [vectors.policy_index[p] for p in policies]
    pooled = policy_scores(chunk_vectors, chunks, vectors.policies[rows], policies, config)
    column = {policy: i for i, policy in enumerate(policies)}
    involved = {p for v in bundle.superseded(context_id) for p in bundle.values[v].policies}
    hub = hubness(reference, sorted({*rows, *(vectors.policy_index[p] for p in involved)}))
    corrected = pooled.scores - config.hubness * hub[:, None]
    totals = np.zeros(len(hub))
    breakdown: list[list[dict]] = [[] for _ in hub]
    for value_id, role, weight in roles:
        value = bundle.values[value_id]
        cols = [column[p] for p in value.policies]
        value_scores = pool_policies(corrected[:, cols], config)
        totals += weight * value_scores
        for c, entries in enumerate(breakdown):
            entries.append(
                {
                    "id": value.id,
                    "title": value.title,
                    "role": role,
                    "weight": _round(weight),
                    "score": _round(value_scores[c]),
                    "policies": [
                        _policy_entry(policy, col, c, pooled, corrected, chunks)
                        for policy, col in zip(value.policies, cols, strict=True)
                    ],
                }
            )
    return ContextScores(totals, hub, breakdown)


def _weighted_values(
    bundle: Bundle, context_id: str, config: RerankerConfig
) -> list[tuple[str, str, float]]:
    """(value id, role, signed weight): top values add, superseded values subtract.

    A value the winner supersedes never counts as a top value, whatever its rank.
    """
    superseded = bundle.superseded(context_id)
    ranked = [row for row in bundle.rankings.get(context_id, []) if row.value_id not in superseded]
    top = ranked[: config.top_k_values]
    weights = value_weights([row.score for row in top])
    roles = [(row.value_id, "top", float(w)) for row, w in zip(top, weights, strict=True)]
    if superseded and config.contrastive_lambda:
        share = -config.contrastive_lambda / len(superseded)
        roles += [(value_id, "superseded", share) for value_id in superseded]
    return roles


def _policy_entry(
    policy: str, col: int, c: int, pooled: PolicyScores, corrected: np.ndarray, chunks: Chunks
) -> dict:
    return {
        "policy": policy,
        "score": _round(corrected[c, col]),
        "similarity": _round(pooled.scores[c, col]),
        "best_chunk": list(chunks.spans[int(pooled.best_chunk[c, col])]),
    }


def _owners(chunks: Chunks) -> np.ndarray:
    return np.repeat(np.arange(len(chunks.bounds) - 1), np.diff(chunks.bounds))


def _round(number: float) -> float:
    return round(float(number), 6)
