"""Reliability: would other raters have produced the same graph?

**Split-half.**  ``repeats`` times, shuffle the raters (seeded) and split them into
two halves; summarise each half's votes per context (:func:`.edges.summarize_edges`).
The unit is the *shown hypothesis* (context, A -> B in the direction voted on; the
reverse rows MAI adds are left out, as they are almost never kept and would inflate
agreement).  Over the hypotheses answered in both halves, the Pearson correlation
of their wiser likelihoods; over all shown hypotheses (one missing from a half
counts as rejected there), the agreement of the keep/reject decisions: raw,
Cohen's kappa, and the Jaccard overlap of the kept sets.  Kappa corrects the raw
agreement for chance:
``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_e = k_A k_B + (1 - k_A)(1 - k_B)``
and ``k_X`` the share of pairs kept in half X.

**Votes per edge.**  How many votes each shown hypothesis (context, A -> B) got,
and how many votes each rater cast.

**Held-out prediction.**  Raters are dealt into ``folds`` folds (seeded); each
fold's decisive votes are predicted by a Bradley-Terry fit on the other folds and
by the base rate (the training share of "wiser").  Accuracy (predict "wiser" when
``p >= 0.5``) and mean log-loss ``-mean(y log p + (1 - y) log(1 - p))``, pooled.

**Gate.**  A study is publishable when all of :class:`GateThresholds` hold:
split-half kappa ``>= 0.4`` (moderate agreement), split-half likelihood
correlation ``>= 0.5``, median votes per edge ``>= 5``, and Bradley-Terry beats
the base rate on held-out log-loss.  A context's winner is then published only
when, besides, it is in no contested set, it came out on top in at least 80% of
the Bradley-Terry bootstrap samples and (when groups are given) it is bridged;
:mod:`.report` applies that part.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from .edges import count_fields, edge_rows, entropy_bits, keep_mask, wiser_likelihood
from .rank import BTFit, bt_data, bt_predict, fit_bt, warm_start
from .types import LESS_WISE, NOT_WISER, WISER, Config, VoteArrays

_EPS = 1e-12
#: Gradient tolerance of the folds' fits: their predictions are compared by log-loss to four
#: decimals, so a fit a millionth from its optimum predicts the same.
HELDOUT_TOL = 1e-6


@dataclass(frozen=True)
class SplitHalf:
    repeats: int
    correlation_mean: float
    correlation_sd: float
    agreement_mean: float
    kappa_mean: float
    kappa_sd: float
    kept_jaccard_mean: float
    shared_pairs_mean: float


@dataclass(frozen=True)
class Distribution:
    count: int
    min: float
    median: float
    mean: float
    p90: float
    max: float


@dataclass(frozen=True)
class Heldout:
    folds: int
    votes: int
    bt_accuracy: float
    bt_log_loss: float
    base_accuracy: float
    base_log_loss: float


@dataclass(frozen=True)
class GateThresholds:
    min_kappa: float = 0.4
    min_correlation: float = 0.5
    min_median_votes_per_edge: float = 5.0
    min_log_loss_gain: float = 0.0
    min_winner_prob_top: float = 0.8
    max_flagged_vote_share: float = 0.1


@dataclass(frozen=True)
class Gate:
    """``failures`` name each failed check with its figure; ``checks`` name the same checks
    without figures (what a context's winner gives as reasons: those stay the same while the
    figures move with every vote)."""

    publishable: bool
    failures: tuple[str, ...]
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReliabilityReport:
    split_half: SplitHalf
    votes_per_edge: Distribution
    votes_per_rater: Distribution
    heldout: Heldout
    gate: Gate

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _ShownRows:
    """Where each vote lands in the per-context edge table (:func:`.edges.summarize_edges`'s
    rows, found once for the whole study), and which rows are shown hypotheses."""

    forward: np.ndarray
    reverse: np.ndarray
    n_rows: int
    shown: np.ndarray

    @classmethod
    def of(cls, votes: VoteArrays) -> _ShownRows:
        forward, reverse, n_rows = edge_rows(votes)
        return cls(forward, reverse, n_rows, np.unique(forward))


def _half_view(
    votes: VoteArrays, rows: _ShownRows, mask: np.ndarray, config: Config
) -> tuple[np.ndarray, ...]:
    """For each shown hypothesis, from the votes in ``mask`` alone (as ``summarize_edges`` of
    those votes would give it): answered?, its likelihood, kept?"""
    counts = count_fields(votes.answer[mask], rows.forward[mask], rows.reverse[mask], rows.n_rows)[
        rows.shown
    ]
    wiser, not_wiser, less_wise, unsure = counts[:, :4].T
    total = wiser + not_wiser + less_wise + unsure
    likelihood = wiser_likelihood(wiser, less_wise, total)
    width = 5 if config.entropy_mode == "mai_five_field" else 4
    kept = keep_mask(wiser, likelihood, entropy_bits(counts[:, :width]), config)
    return total > 0, likelihood, kept


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0:
        return float("nan")
    p_o = np.mean(a == b)
    ka, kb = a.mean(), b.mean()
    p_e = ka * kb + (1 - ka) * (1 - kb)
    return float("nan") if p_e >= 1 else float((p_o - p_e) / (1 - p_e))


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _one_split(
    votes: VoteArrays, rows: _ShownRows, config: Config, rng: np.random.Generator
) -> tuple[float, float, float, float, int]:
    half = np.zeros(votes.n_raters, dtype=bool)
    half[rng.permutation(votes.n_raters)[: votes.n_raters // 2]] = True
    in_a = half[votes.rater]
    views = [_half_view(votes, rows, m, config) for m in (in_a, ~in_a)]
    (ans_a, lik_a, kept_a), (ans_b, lik_b, kept_b) = views
    both = ans_a & ans_b
    either = (kept_a | kept_b).sum()
    jaccard = float((kept_a & kept_b).sum() / either) if either else float("nan")
    agreement = float(np.mean(kept_a == kept_b)) if len(rows.shown) else float("nan")
    corr = _corr(lik_a[both], lik_b[both])
    return corr, agreement, _kappa(kept_a, kept_b), jaccard, int(both.sum())


def _nan_stat(fn, values: list[float]) -> float:
    clean = [v for v in values if not np.isnan(v)]
    return float(fn(clean)) if clean else float("nan")


def split_half(
    votes: VoteArrays, config: Config, *, repeats: int, rng: np.random.Generator
) -> SplitHalf:
    """Split-half agreement of per-context edge summaries (see the module docstring)."""
    rows = _ShownRows.of(votes)
    runs = [_one_split(votes, rows, config, rng) for _ in range(repeats)]
    corr, agree, kappa, jaccard, shared = (list(col) for col in zip(*runs, strict=True))
    return SplitHalf(
        repeats=repeats,
        correlation_mean=_nan_stat(np.mean, corr),
        correlation_sd=_nan_stat(np.std, corr),
        agreement_mean=_nan_stat(np.mean, agree),
        kappa_mean=_nan_stat(np.mean, kappa),
        kappa_sd=_nan_stat(np.std, kappa),
        kept_jaccard_mean=_nan_stat(np.mean, jaccard),
        shared_pairs_mean=float(np.mean(shared)) if shared else float("nan"),
    )


def _split_and_heldout(
    votes: VoteArrays,
    config: Config,
    rng: np.random.Generator,
    full_fit: BTFit | None,
    workers: int,
) -> tuple[SplitHalf, Heldout]:
    """Split halves, then held-out folds, from ``rng``; with ``workers`` above 1 the halves run
    on a thread beside the folds, which draw from a copy of ``rng`` moved past the halves'
    draws (so both draw what they would one after the other)."""
    repeats = config.split_half_repeats
    if workers <= 1:
        split = split_half(votes, config, repeats=repeats, rng=rng)
        return split, heldout_prediction(
            votes, config, folds=config.folds, rng=rng, full_fit=full_fit
        )
    after_split = copy.deepcopy(rng)
    for _ in range(repeats):
        after_split.permutation(votes.n_raters)  # the draws split_half makes
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="split") as beside:
        split = beside.submit(split_half, votes, config, repeats=repeats, rng=rng)
        held = heldout_prediction(
            votes, config, folds=config.folds, rng=after_split, full_fit=full_fit, workers=workers
        )
        return split.result(), held


def _fold_prediction(
    decisive: VoteArrays, held: np.ndarray, config: Config, full_fit: BTFit | None
) -> tuple[np.ndarray, ...] | None:
    """One fold's held-out answers and their Bradley-Terry and base-rate predictions, from a
    fit on the other folds; None when either side has no votes."""
    train, test = decisive.take(~held), decisive.take(held)
    if test.n_votes == 0 or train.n_votes == 0:
        return None
    data = bt_data(train, alpha=config.bt_alpha)
    init = warm_start(full_fit, data) if full_fit is not None else None
    fit = fit_bt(data, l2=config.bt_l2, alpha_l2=config.bt_alpha_l2, init=init, tol=HELDOUT_TOL)
    y = (test.answer == WISER).astype(np.float64)
    return y, bt_predict(fit, test), np.full(test.n_votes, np.mean(train.answer == WISER))


def distribution(counts: np.ndarray) -> Distribution:
    """Summary of a vector of counts."""
    if len(counts) == 0:
        nan = float("nan")
        return Distribution(0, nan, nan, nan, nan, nan)
    return Distribution(
        count=len(counts),
        min=float(counts.min()),
        median=float(np.median(counts)),
        mean=float(counts.mean()),
        p90=float(np.quantile(counts, 0.9)),
        max=float(counts.max()),
    )


def votes_per_edge(votes: VoteArrays) -> Distribution:
    """Votes per shown hypothesis (context, A -> B)."""
    nv = np.int64(max(votes.n_values, 1))
    keys = (votes.context * nv + votes.src) * nv + votes.dst
    return distribution(np.unique(keys, return_counts=True)[1])


def votes_per_rater(votes: VoteArrays) -> Distribution:
    return distribution(np.unique(votes.rater, return_counts=True)[1])


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def heldout_prediction(
    votes: VoteArrays,
    config: Config,
    *,
    folds: int,
    rng: np.random.Generator,
    full_fit: BTFit | None = None,
    workers: int = 1,
) -> Heldout:
    """K-fold-by-rater prediction of decisive votes: Bradley-Terry vs the base rate.

    ``full_fit`` (the fit on all votes) only speeds the folds' fits up: each starts from it
    and converges to the same optimum in fewer Newton steps. ``workers``: folds fitted at
    once, on threads (each fold's fit is its own, so the result is the same)."""
    decisive = votes.take(np.isin(votes.answer, (WISER, NOT_WISER, LESS_WISE))).canonical()
    fold_of = np.empty(votes.n_raters, dtype=np.int64)
    fold_of[rng.permutation(votes.n_raters)] = np.arange(votes.n_raters) % folds
    vote_fold = fold_of[decisive.rater]

    def one_fold(k: int) -> tuple[np.ndarray, ...] | None:
        return _fold_prediction(decisive, vote_fold == k, config, full_fit)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fold") as pool:
        done = [fold for fold in pool.map(one_fold, range(folds)) if fold is not None]
    ys, bt, base = ([fold[i] for fold in done] for i in range(3))
    if not ys:
        nan = float("nan")
        return Heldout(folds, 0, nan, nan, nan, nan)
    y, p_bt, p_base = (np.concatenate(x) for x in (ys, bt, base))
    return Heldout(
        folds=folds,
        votes=len(y),
        bt_accuracy=float(np.mean((p_bt >= 0.5) == (y == 1))),
        bt_log_loss=_log_loss(y, p_bt),
        base_accuracy=float(np.mean((p_base >= 0.5) == (y == 1))),
        base_log_loss=_log_loss(y, p_base),
    )


def gate(
    split: SplitHalf,
    per_edge: Distribution,
    heldout: Heldout,
    thresholds: GateThresholds | None = None,
) -> Gate:
    """Check the publishing thresholds; NaN figures fail (no evidence is not agreement)."""
    t = thresholds or GateThresholds()
    checks = [
        (
            split.kappa_mean >= t.min_kappa,
            f"split-half kappa {split.kappa_mean:.3f} < {t.min_kappa}",
            f"split-half kappa < {t.min_kappa}",
        ),
        (
            split.correlation_mean >= t.min_correlation,
            f"split-half likelihood correlation {split.correlation_mean:.3f} < {t.min_correlation}",
            f"split-half likelihood correlation < {t.min_correlation}",
        ),
        (
            per_edge.median >= t.min_median_votes_per_edge,
            f"median votes per edge {per_edge.median} < {t.min_median_votes_per_edge}",
            f"median votes per edge < {t.min_median_votes_per_edge}",
        ),
        (
            heldout.base_log_loss - heldout.bt_log_loss > t.min_log_loss_gain,
            f"held-out log-loss: Bradley-Terry {heldout.bt_log_loss:.4f} does not beat "
            f"base rate {heldout.base_log_loss:.4f}",
            "held-out log-loss: Bradley-Terry does not beat the base rate",
        ),
    ]
    failed = [(failure, check) for ok, failure, check in checks if not ok]
    return Gate(not failed, tuple(f for f, _ in failed), tuple(c for _, c in failed))


def reliability_report(
    votes: VoteArrays,
    config: Config | None = None,
    *,
    rng: np.random.Generator | None = None,
    thresholds: GateThresholds | None = None,
    full_fit: BTFit | None = None,
    workers: int = 1,
) -> ReliabilityReport:
    """Split-half, votes per edge and rater, held-out prediction and the publishing gate.

    ``full_fit``: the Bradley-Terry fit on all ``votes``, if made, to start the folds from.
    ``workers`` above 1: the split halves run beside the held-out folds, which are fitted
    ``workers`` at a time, each drawing what it would draw one after the other."""
    config = config or Config()
    rng = rng if rng is not None else np.random.default_rng(config.seed)
    split, held = _split_and_heldout(votes, config, rng, full_fit, workers)
    per_edge = votes_per_edge(votes)
    return ReliabilityReport(
        split, per_edge, votes_per_rater(votes), held, gate(split, per_edge, held, thresholds)
    )
