"""Edge summary: per ordered pair of values, vote counts and MAI's summary statistics.

Counting (MAI's ``summarizeGraph``, described in words in SPEC section 4).  A vote
on the hypothesis ``A -> B`` touches two ordered pairs:

* ``(A, B)`` gets one impression and one count by its answer:
  ``wiser -> markedWiser``, ``not_wiser -> markedNotWiser``,
  ``unsure -> markedUnsure``, ``less_wise -> markedLessWise``;
* ``(B, A)`` gets one impression, and ``markedLessWise`` when the answer is
  ``wiser`` (an upgrade ``A -> B`` says A is less wise than B).

MAI's data has no ``less_wise`` answer.  Ours is the mirror image of ``wiser``: it
says A is wiser than B, so ``(B, A)`` also gets ``markedWiser``.  On MAI data the
two rules coincide.

Per pair, with ``w, n, l, u, i`` the wiser, not-wiser, less-wise, unsure and
impression counts:

.. math::

    T = w + n + l + u, \\qquad
    \\mathrm{wiserLikelihood} = \\frac{w - l}{T} \\;(0 \\text{ if } T = 0), \\qquad
    H = -\\sum_k p_k \\log_2 p_k,\\; p_k = c_k / \\textstyle\\sum_j c_j

where the entropy ``H`` runs over ``(w, n, l, u)`` (``four_field``, our default)
or ``(w, n, l, u, i)`` (``mai_five_field``: MAI feeds the impressions in too);
terms with ``p_k = 0`` are skipped and an all-zero row has entropy 0.  A pair is
*kept* when ``w >= max(min_wiser, 1)``, likelihood ``>= min_likelihood`` and
``H <= max_entropy`` (MAI: 2, 0.33, 1.69).

The global table pools all contexts (MAI's graph); the per-context table counts
the votes of each context separately.  Both are sorted by (context, src, dst).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import LESS_WISE, WISER, Config, VoteArrays, sorted_unique

GLOBAL = -1  # context code of rows in the global (all-contexts) table

#: Count columns in MAI's field order (the order its entropy sums over).
COUNT_FIELDS: tuple[str, ...] = ("wiser", "not_wiser", "less_wise", "unsure", "impressions")


@dataclass(frozen=True, eq=False)
class EdgeTable:
    """One row per ordered pair (and context); every column is a numpy array.

    ``context`` is a context code, or :data:`GLOBAL` in the pooled table; ``src``
    and ``dst`` are value codes (``dst`` is the candidate wiser value); ``raters``
    counts the distinct raters who voted on the pair in either direction.
    """

    context: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    wiser: np.ndarray
    not_wiser: np.ndarray
    less_wise: np.ndarray
    unsure: np.ndarray
    impressions: np.ndarray
    raters: np.ndarray
    likelihood: np.ndarray
    entropy: np.ndarray
    kept: np.ndarray

    def __len__(self) -> int:
        return len(self.src)

    def counts(self) -> np.ndarray:
        """The five count columns as an ``(n, 5)`` matrix in :data:`COUNT_FIELDS` order."""
        return np.column_stack([getattr(self, name) for name in COUNT_FIELDS])

    def select(self, rows: np.ndarray) -> EdgeTable:
        """The rows selected by ``rows`` (indices or a boolean mask)."""
        names = self.__dataclass_fields__
        return EdgeTable(**{name: getattr(self, name)[rows] for name in names})


def wiser_likelihood(wiser: np.ndarray, less_wise: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``(wiser - less_wise) / total``, and 0 where ``total`` is 0."""
    total = np.asarray(total, dtype=np.float64)
    diff = np.asarray(wiser, dtype=np.float64) - less_wise
    out = np.zeros(np.broadcast(diff, total).shape)
    np.divide(diff, total, out=out, where=total > 0)
    return out


def entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits of each row of a count matrix, summed column by column.

    Summing in column order reproduces MAI's floating-point result exactly.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=1)
    entropy = np.zeros(len(counts))
    for column in counts.T:
        p = np.zeros(len(counts))
        np.divide(column, total, out=p, where=total > 0)
        term = np.zeros(len(counts))
        np.multiply(p, np.log2(p, out=np.zeros_like(p), where=p > 0), out=term, where=p > 0)
        entropy -= term
    return entropy


def keep_mask(
    wiser: np.ndarray, likelihood: np.ndarray, entropy: np.ndarray, config: Config
) -> np.ndarray:
    """MAI's filter: enough wiser votes, a clear enough likelihood, low enough entropy."""
    return (
        (wiser >= max(config.min_wiser, 1))
        & (likelihood >= config.min_likelihood)
        & (entropy <= config.max_entropy)
    )


def _pair_keys(context: np.ndarray, a: np.ndarray, b: np.ndarray, n_values: int) -> np.ndarray:
    # One int64 per (context, a, b): sorting the keys sorts by context, a, b.
    n = np.int64(max(n_values, 1))
    if (int(context.max(initial=0)) + 2) * int(n) * int(n) >= 2**62:
        raise OverflowError("too many values x contexts for int64 pair keys")
    return ((context.astype(np.int64) + 1) * n + a) * n + b


def summarize_edges(
    votes: VoteArrays, config: Config | None = None, *, by_context: bool = True
) -> EdgeTable:
    """Count every ordered pair touched by ``votes`` and apply MAI's summary and filter.

    ``by_context=False`` pools all contexts into one table (context :data:`GLOBAL`),
    which is MAI's published graph.

    Every vote touches both orders of its *unordered* pair ``{A, B}``, so the table
    has two rows per unordered pair: one sort of the votes' unordered keys finds
    them, and each vote lands in row ``2u`` (low -> high id) or ``2u + 1``.
    """
    config = config or Config()
    uniq, inv = _unordered_pairs(votes, by_context)
    forward_row, reverse_row = _rows(votes, inv)
    counts = count_fields(votes.answer, forward_row, reverse_row, 2 * len(uniq))
    raters = np.repeat(_distinct_raters(votes.rater, inv, votes.n_raters, len(uniq)), 2)
    nv = np.int64(max(votes.n_values, 1))
    context, rest = np.divmod(uniq, nv * nv)
    lo, hi = np.divmod(rest, nv)
    src = np.column_stack([lo, hi]).reshape(-1)
    dst = np.column_stack([hi, lo]).reshape(-1)
    context = np.repeat(context - 1, 2)
    order = np.argsort(_pair_keys(context, src, dst, votes.n_values), kind="stable")
    return _table(context[order], src[order], dst[order], counts[order], raters[order], config)


def _unordered_pairs(votes: VoteArrays, by_context: bool) -> tuple[np.ndarray, np.ndarray]:
    """The sorted keys of the unordered pairs voted on, and each vote's pair."""
    ctx = votes.context if by_context else np.full(votes.n_votes, GLOBAL, dtype=np.int64)
    low, high = np.minimum(votes.src, votes.dst), np.maximum(votes.src, votes.dst)
    uniq, inv = np.unique(_pair_keys(ctx, low, high, votes.n_values), return_inverse=True)
    return uniq, inv.reshape(-1)


def _rows(votes: VoteArrays, inv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each vote's row in pair order: ``2u`` is low -> high, ``2u + 1`` high -> low; the
    shown order (forward) and the other (reverse)."""
    upward = (votes.src <= votes.dst).astype(np.int64)
    return 2 * inv + 1 - upward, 2 * inv + upward


def edge_rows(votes: VoteArrays) -> tuple[np.ndarray, np.ndarray, int]:
    """Per vote, its forward and reverse row among the per-context table's rows in pair order
    (not :func:`summarize_edges`'s final order), and the number of rows: for counting any
    subset of the votes with :func:`count_fields` without sorting again."""
    uniq, inv = _unordered_pairs(votes, True)
    return (*_rows(votes, inv), 2 * len(uniq))


def count_fields(
    answer: np.ndarray, forward_row: np.ndarray, reverse_row: np.ndarray, m: int
) -> np.ndarray:
    # The shown pair counts the answer itself (answer codes are field codes); the
    # reverse pair counts wiser as less_wise and less_wise as wiser, and nothing else.
    cells = np.bincount(forward_row * 4 + answer, minlength=4 * m)
    flipped = np.full(len(answer), -1, dtype=np.int64)
    flipped[answer == WISER] = LESS_WISE
    flipped[answer == LESS_WISE] = WISER
    hit = flipped >= 0
    cells += np.bincount(reverse_row[hit] * 4 + flipped[hit], minlength=4 * m)
    impressions = np.bincount(forward_row, minlength=m) + np.bincount(reverse_row, minlength=m)
    return np.column_stack([cells.reshape(m, 4), impressions]).astype(np.int64)


def _distinct_raters(rater: np.ndarray, inv: np.ndarray, n_raters: int, m: int) -> np.ndarray:
    pair_rater = sorted_unique(inv.astype(np.int64) * max(n_raters, 1) + rater)
    return np.bincount(pair_rater // max(n_raters, 1), minlength=m).astype(np.int64)


def _table(
    context: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    counts: np.ndarray,
    raters: np.ndarray,
    config: Config,
) -> EdgeTable:
    wiser, not_wiser, less_wise, unsure, impressions = counts.T
    likelihood = wiser_likelihood(wiser, less_wise, wiser + not_wiser + less_wise + unsure)
    width = 5 if config.entropy_mode == "mai_five_field" else 4
    entropy = entropy_bits(counts[:, :width])
    return EdgeTable(
        context=context,
        src=src,
        dst=dst,
        wiser=wiser.copy(),
        not_wiser=not_wiser.copy(),
        less_wise=less_wise.copy(),
        unsure=unsure.copy(),
        impressions=impressions.copy(),
        raters=raters,
        likelihood=likelihood,
        entropy=entropy,
        kept=keep_mask(wiser, likelihood, entropy, config),
    )


def pair_contexts(votes: VoteArrays, table: EdgeTable) -> list[tuple[int, ...]]:
    """For each row of a global table, the sorted context codes it was voted in.

    As in MAI, a vote on ``A -> B`` lists its context on both ``(A, B)`` and ``(B, A)``.
    """
    nv = np.int64(max(votes.n_values, 1))
    nc = np.int64(max(votes.n_contexts, 1))
    fwd = (votes.src * nv + votes.dst) * nc + votes.context
    rev = (votes.dst * nv + votes.src) * nc + votes.context
    pair_ctx = sorted_unique(np.concatenate([fwd, rev]))
    pair, ctx = np.divmod(pair_ctx, nc)
    row = np.searchsorted(table.src * nv + table.dst, pair)
    bounds = np.searchsorted(row, np.arange(len(table) + 1))
    return [tuple(ctx[bounds[i] : bounds[i + 1]].tolist()) for i in range(len(table))]
