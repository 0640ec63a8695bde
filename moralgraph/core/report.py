"""The whole aggregation as one pure function, and its deterministic JSON form.

:func:`aggregate` runs every step on one set of votes: edge summaries (global, as
MAI publishes, and per context), PageRank rankings, contested sets, Bradley-Terry
scores with bootstrap intervals, bridging (when rater groups are given), the
reliability report, and for each context a winner with the reasons it may or may
not be published.  Intervals and P(top) come from the linearised rater bootstrap of
:mod:`.intervals` (one sparse factorisation instead of a refit per sample).  All
randomness comes from one generator seeded by ``config.seed`` (with an acquiescence term per
context, each context's bootstrap has its own: :mod:`.by_context`); nothing reads the clock.
:func:`dumps` writes sorted keys and floats rounded to :data:`FLOAT_DIGITS` decimals, so
equal inputs give equal bytes.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from .bridging import Bridging, edge_bridging, winner_bridging
from .by_context import (
    ContextFits,
    Kept,
    bootstrap,
    fit_contexts,
    intervals_by_context,
    separable,
)
from .edges import GLOBAL, EdgeTable, pair_contexts, summarize_edges
from .graph import contested_sets
from .intervals import bt_intervals, skip_draws
from .rank import (
    MAI_ALGORITHM,
    NETWORKX_ALGORITHM,
    BTData,
    BTFit,
    BTIntervals,
    Scores,
    bradley_terry,
    rank_edges,
)
from .raters import gate_with_flags, quality_section
from .reliability import GateThresholds, ReliabilityReport, reliability_report
from .types import ANSWERS, WISER, Config, VoteArrays

#: Bump when the result's shape or any section's content would change for the same votes and
#: config: a build reuses sections only from a build of the same version.
SCHEMA_VERSION = 1
#: The steps of :func:`aggregate_parts` before any section is made, in order.
STAGES = (
    "Fitting Bradley-Terry scores.",
    "Bradley-Terry intervals and P(top).",
    "Reliability and the publishing gate.",
)
FLOAT_DIGITS = 10
#: From this many votes the reliability report runs beside the intervals on a second thread
#: (a build of fewer takes a few seconds on one core).
BESIDE_MIN_VOTES = 50_000
PAGERANK_NOTES = {
    MAI_ALGORITHM: "MAI PageRank: damping 0.85, fixed iterations from uniform, no "
    "redistribution of dangling mass, so scores need not sum to 1.",
    NETWORKX_ALGORITHM: "NetworkX PageRank: dangling mass spread uniformly; scores sum "
    "to 1 per graph.",
}


def _edge_rows(
    table: EdgeTable, votes: VoteArrays, bridging: Bridging | None, contexts: list | None
) -> list[dict[str, Any]]:
    values = votes.values
    columns = zip(
        table.src.tolist(),
        table.dst.tolist(),
        table.wiser.tolist(),
        table.not_wiser.tolist(),
        table.less_wise.tolist(),
        table.unsure.tolist(),
        table.impressions.tolist(),
        table.raters.tolist(),
        json_floats(table.likelihood),
        json_floats(table.entropy),
        table.kept.tolist(),
        strict=True,
    )
    rows = CleanRows(_edge_row(values, *fields) for fields in columns)
    for i, row in enumerate(rows):
        if contexts is not None:
            row["contexts"] = [votes.contexts[c] for c in contexts[i]]
        if bridging is not None:
            row["bridging"] = _bridging_row(bridging, i)
    return rows


def _edge_row(
    values: list, src, dst, wiser, not_wiser, less_wise, unsure, impressions, raters, *summary
) -> dict[str, Any]:
    likelihood, entropy, kept = summary
    return {
        "sourceValueId": values[src],
        "wiserValueId": values[dst],
        "counts": {
            "markedWiser": wiser,
            "markedNotWiser": not_wiser,
            "markedLessWise": less_wise,
            "markedUnsure": unsure,
            "impressions": impressions,
        },
        "raters": raters,
        "summary": {"wiserLikelihood": likelihood, "entropy": entropy},
        "kept": kept,
    }


def _bridging_row(bridging: Bridging, i: int) -> dict[str, Any]:
    groups = {
        label: {
            "favour": int(bridging.favour[i, g]),
            "decisive": int(bridging.decisive[i, g]),
            "support": _clean_float(float(bridging.support[i, g])),
            "qualified": bool(bridging.qualified[i, g]),
        }
        for g, label in enumerate(bridging.groups)
    }
    return {"bridged": bool(bridging.bridged[i]), "groups": groups}


def _scores_by_context(scores: Scores, votes: VoteArrays) -> dict[int, list[dict[str, Any]]]:
    values = votes.values
    result: defaultdict[int, CleanRows] = defaultdict(CleanRows)
    columns = zip(
        scores.context.tolist(), scores.value.tolist(), json_floats(scores.score), strict=True
    )
    for context, value, score in columns:
        result[context].append({"value": values[value], "score": score})
    return dict(result)


def _bt_by_context(
    fit: BTFit, intervals: BTIntervals, votes: VoteArrays
) -> dict[int, list[dict[str, Any]]]:
    order = np.lexsort((fit.node_value, -fit.theta, fit.node_context))
    values = votes.values
    result: defaultdict[int, CleanRows] = defaultdict(CleanRows)
    columns = zip(
        *(a[order].tolist() for a in (fit.node_context, fit.node_value)),
        *(
            json_floats(a[order])
            for a in (fit.theta, intervals.lo, intervals.hi, intervals.prob_top)
        ),
        strict=True,
    )
    for context, value, theta, lo, hi, prob_top in columns:
        row = {"value": values[value], "theta": theta, "lo": lo, "hi": hi, "prob_top": prob_top}
        result[context].append(row)
    return dict(result)


def _winner(
    ranking: list[dict[str, Any]],
    contested: list[list[Any]],
    bt: list[dict[str, Any]],
    reliability: ReliabilityReport,
    thresholds: GateThresholds,
) -> dict[str, Any] | None:
    """The top PageRank value and every reason not to publish it (the study's failed gate
    checks without their figures, which the reliability report gives)."""
    if not ranking:
        return None
    top = ranking[0]
    reasons = list(reliability.gate.checks)
    if len(ranking) > 1 and math.isclose(ranking[1]["score"], top["score"], rel_tol=1e-9):
        reasons.append("tied with the runner-up")
    if any(top["value"] in members for members in contested):
        reasons.append("in a contested set (a cycle of wiser-than edges)")
    prob = next((e["prob_top"] for e in bt if e["value"] == top["value"]), None)
    prob = float("nan") if prob is None else prob
    if not prob >= thresholds.min_winner_prob_top:
        reasons.append(
            f"Bradley-Terry bootstrap P(top) {prob:.2f} < {thresholds.min_winner_prob_top}"
        )
    return {"value": top["value"], "score": top["score"], "bt_prob_top": prob, "reasons": reasons}


@dataclass
class Parts:
    """An aggregation result in pieces, made as they are read: ``head`` is everything but the
    context sections and the global graph; ``contexts(skip)`` yields ``(label, section)`` one
    context at a time (its edge rows are built only then), with None for the section of a
    label whose text is in ``skip`` (a caller that has that section already); ``heads`` holds
    every context's section but its edge rows; ``overall(kept_only)`` is the global section,
    with only kept edges if asked."""

    head: dict[str, Any]
    contexts: Callable[..., Iterator[tuple[Any, dict[str, Any] | None]]]
    overall: Callable[[bool], dict[str, Any]]
    heads: dict[Any, dict[str, Any]] = field(default_factory=dict)
    #: Context label -> digest of its votes (:func:`.inputs.context_fingerprints`), if made.
    inputs: dict[str, str] = field(default_factory=dict)
    #: Labels (as text) of the contexts whose intervals were bootstrapped in this build, and
    #: of those whose intervals were kept from an earlier one.
    bootstrapped: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def aggregate(
    votes: VoteArrays,
    config: Config | None = None,
    *,
    groups: Mapping[str, str] | None = None,
    thresholds: GateThresholds | None = None,
    rater_flags: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Every aggregation step on ``votes``; a JSON-ready dict (see :func:`dumps`).

    With ``rater_flags`` (rater id -> flags, :mod:`.raters`), the result gains
    ``rater_quality`` and the gate fails when flagged raters cast too large a share.
    """
    parts = aggregate_parts(
        votes, config, groups=groups, thresholds=thresholds, rater_flags=rater_flags
    )
    with _one_blas_thread():
        contexts = dict(parts.contexts())
        overall = parts.overall(False)
    return {**parts.head, "global": overall, "contexts": contexts}


def _one_blas_thread():
    """BLAS on one thread: the solves here are small or sparse, and OpenBLAS threads that spin
    for a core the web process holds made a build many times slower on a busy machine."""
    return threadpool_limits(limits=1, user_api="blas")


def aggregate_parts(
    votes: VoteArrays,
    config: Config | None = None,
    *,
    groups: Mapping[str, str] | None = None,
    thresholds: GateThresholds | None = None,
    rater_flags: Mapping[str, Sequence[str]] | None = None,
    on_stage: Callable[[str], None] | None = None,
    kept: Kept | None = None,
) -> Parts:
    """:func:`aggregate` as :class:`Parts`, so a caller can write each section as it is made.

    ``on_stage(name)`` is told as each of :data:`STAGES` begins (for a progress bar).
    ``kept``: intervals an earlier build stored for contexts whose votes did not change (see
    :mod:`.by_context`; used only when each context is fitted alone)."""
    config = config or Config()
    thresholds = thresholds or GateThresholds()
    with _one_blas_thread():
        return _parts(votes, config, groups, thresholds, rater_flags, on_stage or _quiet, kept)


def _quiet(stage: str) -> None:
    return None


def _parts(
    votes: VoteArrays,
    config: Config,
    groups: Mapping[str, str] | None,
    thresholds: GateThresholds,
    rater_flags: Mapping[str, Sequence[str]] | None,
    on_stage: Callable[[str], None],
    kept: Kept | None,
) -> Parts:
    rng = np.random.default_rng(config.seed)
    on_stage(STAGES[0])
    data, fit = _bt_fit(votes, config)
    on_stage(STAGES[1])
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reliability") as beside:
        after = copy.deepcopy(rng)
        later = (
            beside.submit(_reliability_after_intervals, votes, config, after, data, fit, thresholds)
            if _beside(votes)
            else None
        )
        intervals, bootstrapped, reused = _bt_intervals(votes, config, rng, data, fit, kept)
        on_stage(STAGES[2])
        reliability = (
            later.result()
            if later is not None
            else _reliability_after_intervals(votes, config, after, data, fit, thresholds)
        )
    quality = quality_section(votes, rater_flags, config) if rater_flags is not None else None
    if quality is not None:
        reliability = gate_with_flags(reliability, quality["flagged_share"], thresholds)
    bt = _bt_by_context(fit, intervals, votes)
    heads, contexts = _context_sections(votes, config, bt, reliability, thresholds, groups)
    head = {
        "schema_version": SCHEMA_VERSION,
        "config": config.to_dict(),
        "algorithm": _algorithm(config),
        "notes": {"pagerank": PAGERANK_NOTES[_algorithm(config)]},
        "counts": _counts(votes),
        "bradley_terry": {
            "alpha": {
                ("*" if c == GLOBAL else votes.contexts[c]): float(a)
                for c, a in zip(fit.alpha_context.tolist(), fit.alpha.tolist(), strict=True)
            },
            "converged": fit.converged,
            "bootstrap_samples": intervals.samples,
        },
        "reliability": reliability.to_dict(),
    }
    if quality is not None:
        head["rater_quality"] = quality
    return Parts(
        head,
        contexts,
        lambda kept_only: _global_section(votes, config, groups, kept_only),
        heads=heads,
        bootstrapped=bootstrapped,
        kept=reused,
    )


def _bt_fit(votes: VoteArrays, config: Config) -> tuple[BTData | ContextFits, BTFit]:
    """The Bradley-Terry fit, of each context alone where the config lets them be."""
    if separable(config):
        fitted = fit_contexts(votes, config)
        return fitted, fitted.joined
    return bradley_terry(votes, config)


def _bt_intervals(
    votes: VoteArrays,
    config: Config,
    rng: np.random.Generator,
    data: BTData | ContextFits,
    fit: BTFit,
    kept: Kept | None,
) -> tuple[BTIntervals, list[str], list[str]]:
    """Intervals and P(top), the labels of the contexts bootstrapped for them and of those
    whose intervals were ``kept`` (only a per-context fit can keep any)."""
    if isinstance(data, ContextFits):
        return intervals_by_context(data, votes, config, kept)
    intervals = bootstrap(data, fit, config, rng, method=bt_intervals)
    return intervals, [str(label) for label in votes.contexts], []


def _beside(votes: VoteArrays) -> bool:
    """Whether to take a second core for the reliability report: only for a study big enough
    to wait for, on a machine that has one."""
    return votes.n_votes >= BESIDE_MIN_VOTES and (os.cpu_count() or 1) > 1


def _reliability_after_intervals(
    votes: VoteArrays,
    config: Config,
    rng: np.random.Generator,
    data: BTData | ContextFits,
    fit: BTFit,
    thresholds: GateThresholds,
) -> ReliabilityReport:
    """The reliability report as it would be made after the intervals (``rng`` is moved past
    their draws first), so that it can run beside them: the two take about as long at a
    million votes, and much of either runs in numpy and scipy without the GIL. Contexts fitted
    alone draw from generators of their own, so there is nothing to skip."""
    if isinstance(data, BTData):
        skip_draws(rng, data, fit, config.bootstrap_samples)
    workers = 2 if _beside(votes) else 1
    return reliability_report(
        votes, config, rng=rng, thresholds=thresholds, full_fit=fit, workers=workers
    )


def _algorithm(config: Config) -> str:
    return MAI_ALGORITHM if config.pagerank == "mai" else NETWORKX_ALGORITHM


def _global_section(
    votes: VoteArrays, config: Config, groups: Mapping[str, str] | None, kept_only: bool
) -> dict[str, Any]:
    """MAI's pooled graph: every pair (or only the kept ones) with its contexts, and the global
    ranking."""
    table = summarize_edges(votes, config, by_context=False)
    scores = rank_edges(table, config)
    bridging = edge_bridging(votes, groups, table, config) if groups else None
    contexts = pair_contexts(votes, table)
    if kept_only:
        rows = np.flatnonzero(table.kept)
        table, bridging = table.select(rows), _take(bridging, rows)
        contexts = [contexts[i] for i in rows.tolist()]
    return {
        "edges": _edge_rows(table, votes, bridging, contexts),
        "ranking": _scores_by_context(scores, votes).get(GLOBAL, []),
    }


def _context_sections(
    votes: VoteArrays,
    config: Config,
    bt: dict[int, list[dict[str, Any]]],
    reliability: ReliabilityReport,
    thresholds: GateThresholds,
    groups: Mapping[str, str] | None,
) -> tuple[dict[Any, dict[str, Any]], Callable[..., Iterator[tuple[Any, dict[str, Any] | None]]]]:
    """Per context: edges, PageRank ranking, Bradley-Terry, contested sets, winner.

    Everything but the edge rows is made now (winners need all of it) and returned first; the
    edge rows, by far the biggest part, are made per context when the returned generator
    reaches it, unless its label (as text) is in the generator's ``skip``.
    """
    table = summarize_edges(votes, config)
    ranking = _scores_by_context(rank_edges(table, config), votes)
    bridging = edge_bridging(votes, groups, table, config) if groups else None
    contested = {
        c: [[votes.values[v] for v in s] for s in sets] for c, sets in contested_sets(table).items()
    }
    contexts: dict[str, Any] = {}
    for code, label in enumerate(votes.contexts):
        args = (ranking.get(code, []), contested.get(code, []), bt.get(code, []))
        contexts[label] = {
            "ranking": args[0],
            "bradley_terry": args[2],
            "contested_sets": args[1],
            "winner": _winner(*args, reliability, thresholds),
        }
    if groups:
        _add_winner_bridging(contexts, votes, groups, config)
    order = np.argsort(table.context, kind="stable")
    starts = np.searchsorted(table.context[order], np.arange(votes.n_contexts + 1))

    def sections(skip: Collection[str] = ()) -> Iterator[tuple[Any, dict[str, Any] | None]]:
        for code, label in enumerate(votes.contexts):
            if str(label) in skip:
                yield label, None
                continue
            rows = order[starts[code] : starts[code + 1]]
            edges = _edge_rows(table.select(rows), votes, _take(bridging, rows), None)
            yield label, {"edges": edges, **contexts[label]}

    return contexts, sections


def _take(bridging: Bridging | None, rows: np.ndarray) -> Bridging | None:
    if bridging is None:
        return None
    arrays = ("favour", "decisive", "support", "qualified", "bridged")
    return replace(bridging, **{name: getattr(bridging, name)[rows] for name in arrays})


def _add_winner_bridging(
    contexts: dict[str, Any], votes: VoteArrays, groups: Mapping[str, str], config: Config
) -> None:
    index = {label: code for code, label in enumerate(votes.contexts)}
    winners = {
        index[label]: votes.values.index(entry["winner"]["value"])
        for label, entry in contexts.items()
        if entry["winner"] is not None
    }
    codes, bridging = winner_bridging(votes, groups, winners, config)
    for row, code in enumerate(codes):
        winner = contexts[votes.contexts[code]]["winner"]
        winner["bridging"] = _bridging_row(bridging, row)
        if not bridging.bridged[row]:
            winner["reasons"].append("not bridged across groups")


def _counts(votes: VoteArrays) -> dict[str, Any]:
    by_answer = np.bincount(votes.answer, minlength=len(ANSWERS))
    decisive = int(by_answer.sum() - by_answer[-1])
    return {
        "votes": votes.n_votes,
        "raters": votes.n_raters,
        "values": votes.n_values,
        "contexts": votes.n_contexts,
        "answers": dict(zip(ANSWERS, by_answer.tolist(), strict=True)),
        "wiser_share_of_decisive": (by_answer[WISER] / decisive) if decisive else None,
    }


class CleanRows(list):
    """Rows made JSON-ready as they were built (ints, strs, bools, None and floats from
    :func:`json_floats`): :func:`clean` returns them as they are."""


def json_floats(values: np.ndarray) -> list[float | None]:
    """``values`` as :func:`clean` writes floats, for a whole column at once: rounded to
    :data:`FLOAT_DIGITS` decimals (numpy's rounding), ``-0.0`` as ``0.0``, NaN and infinities
    as None."""
    rounded = np.round(np.asarray(values, dtype=np.float64), FLOAT_DIGITS) + 0.0
    finite = np.isfinite(rounded)
    return rounded.tolist() if finite.all() else np.where(finite, rounded, None).tolist()


def clean(obj: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, floats rounded, NaN and inf to None."""
    kind = type(obj)
    if kind is CleanRows:
        return obj
    if kind is dict:
        return {str(k): clean(v) for k, v in obj.items()}
    if kind is list or kind is tuple:
        return [clean(v) for v in obj]
    if kind is str or kind is int or kind is bool or obj is None:
        return obj
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return _clean_float(obj)
    return clean(dict(obj)) if isinstance(obj, Mapping) else obj


def _clean_float(value: float) -> float | None:
    if not math.isfinite(value):
        return None
    rounded = round(value, FLOAT_DIGITS)
    return 0.0 if rounded == 0 else rounded


def dumps(result: Mapping[str, Any], *, cleaned: bool = False) -> str:
    """Deterministic JSON text: sorted keys, rounded floats, no spaces, a trailing newline.

    Compact on purpose: with ``indent`` the standard library falls back to its pure-Python
    encoder, which took most of a 100k-vote build. ``cleaned``: ``result`` already went
    through :func:`clean`, so it is not walked again.
    """
    data = result if cleaned else clean(result)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text + "\n"
