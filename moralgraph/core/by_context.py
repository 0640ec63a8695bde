"""Bradley-Terry one context at a time, so that a later build can keep what did not change.

With ``bt_alpha="per_context"`` every context has its own acquiescence term and nothing joins
the contexts' likelihoods. Then each context is fitted alone, and its rater bootstrap
resamples only the raters who voted in it, with a generator seeded by the study's seed and
the context's label (:func:`context_rng`). A context's abilities, intervals and P(top) are a
function of its own votes and the config: the intervals of a context whose votes did not
change since an earlier build can be taken from that build (``kept``) and give the bytes a
fresh bootstrap would. The abilities are always refitted (cheap, and the reliability folds
start from them).

The shared acquiescence (the default, as in MAI's data where every pair was shown one way
only) joins every context through one term and one study-wide bootstrap: there the whole
study is fitted at once (:func:`.rank.bradley_terry`) and nothing is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .intervals import bt_intervals
from .rank import BTData, BTFit, BTIntervals, bradley_terry
from .types import Config, ValueId, VoteArrays

#: Bumped whenever a context's intervals would come out differently for the same votes and
#: config: builds keep intervals only from a build of the same version.
INTERVALS_VERSION = 1

#: Per context label (as text): value id -> (lo, hi, P(top)) as an earlier build stored them.
Kept = Mapping[str, Mapping[ValueId, tuple[float | None, float | None, float | None]]]


def separable(config: Config) -> bool:
    """Whether ``config`` fits each context alone (see module doc)."""
    return config.bt_alpha == "per_context"


def context_rng(seed: int, label: object) -> np.random.Generator:
    """The bootstrap generator of one context: its label's digest beside the study's seed."""
    digest = hashlib.sha256(str(label).encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


@dataclass(frozen=True)
class ContextFits:
    """Each context's design and fit (contexts without decisive votes left out), and all of
    them joined as one fit (nodes in the order of a joint fit)."""

    labels: list[str]
    data: list[BTData]
    fits: list[BTFit]

    @property
    def joined(self) -> BTFit:
        return _joined(self.fits)


def fit_contexts(votes: VoteArrays, config: Config) -> ContextFits:
    """Each context of ``votes`` fitted alone."""
    labels, data, fits = [], [], []
    for code, rows in _context_rows(votes):
        one_data, one_fit = bradley_terry(votes.take(rows), config)
        if len(one_fit.theta):
            labels.append(str(votes.contexts[code]))
            data.append(one_data)
            fits.append(one_fit)
    return ContextFits(labels, data, fits)


def intervals_by_context(
    fitted: ContextFits, votes: VoteArrays, config: Config, kept: Kept | None = None
) -> tuple[BTIntervals, list[str], list[str]]:
    """Every context's intervals and P(top), kept where ``kept`` has them for exactly the
    context's values; the labels (as text) of the contexts bootstrapped, and of those kept."""
    parts, bootstrapped, reused = [], [], []
    for label, data, fit in zip(fitted.labels, fitted.data, fitted.fits, strict=True):
        stored = _stored(fit, votes, (kept or {}).get(label))
        if stored is None:
            stored = bootstrap(data, fit, config, context_rng(config.seed, label))
            bootstrapped.append(label)
        else:
            reused.append(label)
        parts.append(stored)
    return _joined_intervals(parts, config.bootstrap_samples), bootstrapped, reused


def _context_rows(votes: VoteArrays) -> Iterator[tuple[int, np.ndarray]]:
    order = np.argsort(votes.context, kind="stable")
    bounds = np.searchsorted(votes.context[order], np.arange(votes.n_contexts + 1))
    for code in range(votes.n_contexts):
        yield code, order[bounds[code] : bounds[code + 1]]


def bootstrap(
    data: BTData,
    fit: BTFit,
    config: Config,
    rng: np.random.Generator,
    method: Callable[..., BTIntervals] = bt_intervals,
) -> BTIntervals:
    """Intervals and P(top) of ``fit`` with ``config``'s bootstrap settings, by ``method``
    (:func:`.intervals.bt_intervals`, or the refits of :func:`.rank.bt_bootstrap`)."""
    return method(
        data,
        fit,
        samples=config.bootstrap_samples,
        rng=rng,
        level=config.ci_level,
        l2=config.bt_l2,
        alpha_l2=config.bt_alpha_l2,
    )


def _stored(fit: BTFit, votes: VoteArrays, rows: Mapping | None) -> BTIntervals | None:
    """The kept intervals of exactly the fit's values, or None if any is missing."""
    if rows is None:
        return None
    wanted = [votes.values[v] for v in fit.node_value.tolist()]
    if len(rows) != len(wanted) or any(value not in rows for value in wanted):
        return None
    table = np.array([rows[value] for value in wanted], dtype=np.float64).reshape(-1, 3)
    return BTIntervals(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), 0)


def _joined(fits: list[BTFit]) -> BTFit:
    def column(name: str) -> np.ndarray:
        return _stacked(fits, name).astype(np.int64)

    return BTFit(
        column("node_context"),
        column("node_value"),
        _stacked(fits, "theta"),
        _stacked(fits, "alpha"),
        column("alpha_context"),
        all(fit.converged for fit in fits),
    )


def _joined_intervals(parts: list[BTIntervals], samples: int) -> BTIntervals:
    lo, hi, top = (_stacked(parts, name) for name in ("lo", "hi", "prob_top"))
    return BTIntervals(lo, hi, top, samples)


def _stacked(parts: list, name: str) -> np.ndarray:
    """Attribute ``name`` of every part, one array after another."""
    return np.concatenate([getattr(part, name) for part in parts]) if parts else np.zeros(0)
