"""The moral graph of a study: the pure core's :func:`aggregate` over the study's votes.

The loaders hand the core our own ids (values are :class:`CanonicalValue` ids, contexts
:class:`Context` ids), so every id in the result is already ours; ``labels`` adds their
titles and names. Same votes and config, same result: write it with
:func:`moralgraph.core.dumps` for byte-identical JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from elicitation.models import Study

from . import loaders, selectors
from .core import Config, FlagThresholds, GateThresholds, aggregate, flag_raters, without_raters
from .core.by_context import INTERVALS_VERSION, Kept, separable
from .core.inputs import context_fingerprints, contexts_changed
from .core.raters import TimedColumns
from .core.report import SCHEMA_VERSION, Parts, aggregate_parts, clean
from .core.types import VoteArrays
from .models import GraphBuild, RaterExclusion

#: The demographic answer that bridging splits raters by.
BRIDGING_FIELD = "usPoliticalAffiliation"
LOADING = "Loading votes."


@dataclass(frozen=True)
class _Inputs:
    """A study's votes as the core sees them, after excluded cohorts left."""

    all_votes: VoteArrays
    votes: VoteArrays
    labels: loaders.VoteLabels
    groups: dict[str, str]
    flags: dict[str, tuple[str, ...]]  # the remaining raters' flags
    clients: dict[str, str]
    cohorts: list[tuple[str, str]]
    excluded: set[str]


def study_graph(
    study: Study,
    config: Config | None = None,
    *,
    thresholds: GateThresholds | None = None,
    group_field: str = BRIDGING_FIELD,
) -> dict[str, Any]:
    """Edges, rankings, Bradley-Terry, bridging and reliability for ``study``'s votes.

    Bridging runs when some voters answered ``group_field``; ``bridging_groups`` says by
    which field and how many voters have a group. Raters in a cohort the organizer excluded
    are left out before anything is counted; ``rater_quality`` says who the remaining flagged
    raters are, which client each came from, and what was excluded.
    """
    inputs = _inputs(study, group_field)
    result = aggregate(
        inputs.votes,
        config or study_config(study),
        groups=inputs.groups or None,
        thresholds=thresholds or gate_thresholds(),
        rater_flags=inputs.flags,
    )
    _describe_quality(result["rater_quality"], inputs)
    return {**result, **_extras(inputs, group_field)}


def study_graph_parts(
    study: Study,
    config: Config | None = None,
    *,
    thresholds: GateThresholds | None = None,
    group_field: str = BRIDGING_FIELD,
    on_stage: Callable[[str], None] | None = None,
    previous: GraphBuild | None = None,
) -> Parts:
    """:func:`study_graph` in pieces made as they are read (see :class:`core.report.Parts`).

    ``on_stage(name)`` is told as the votes are loaded (:data:`LOADING`) and as each of
    :data:`core.report.STAGES` begins. ``previous``: an earlier build of the study, whose
    Bradley-Terry intervals are kept for every context whose votes did not change since, when
    each context is fitted alone (:mod:`core.by_context`) and the config is the same."""
    config = config or study_config(study)
    if on_stage is not None:
        on_stage(LOADING)
    inputs = _inputs(study, group_field)
    fingerprints = context_fingerprints(inputs.votes, inputs.groups)
    parts = aggregate_parts(
        inputs.votes,
        config,
        groups=inputs.groups or None,
        thresholds=thresholds or gate_thresholds(),
        rater_flags=inputs.flags,
        on_stage=on_stage,
        kept=kept_intervals(previous, config, fingerprints),
    )
    _describe_quality(parts.head["rater_quality"], inputs)
    parts.head.update(_extras(inputs, group_field))
    parts.inputs = fingerprints
    return parts


def study_config(study: Study) -> Config:
    """The config of a study's builds when none is given: the defaults, with the organizer's
    choice of acquiescence term."""
    return Config(bt_alpha=study.graph_acquiescence)


def kept_intervals(
    previous: GraphBuild | None, config: Config, fingerprints: dict[str, str]
) -> Kept:
    """The intervals ``previous`` stored for the contexts whose votes are still the same, if
    a build with ``config`` can keep them (see :mod:`core.by_context`)."""
    if previous is None or not separable(config):
        return {}
    if not same_method(previous, clean(config.to_dict())):
        return {}
    unchanged = contexts_changed(previous.summary.get("context_inputs"), fingerprints)
    return selectors.graph_build_intervals(previous, unchanged["unchanged"])


def same_method(build: GraphBuild, config: dict[str, Any]) -> bool:
    """Whether ``build`` was made with ``config`` (as a build stores it) by this code's methods:
    only then can a later build keep parts of it."""
    recomputed = build.summary.get("recomputed") or {}
    return (
        build.config == config
        and build.summary.get("schema_version") == SCHEMA_VERSION
        and recomputed.get("intervals_version") == INTERVALS_VERSION
    )


def _inputs(study: Study, group_field: str) -> _Inputs:
    all_votes, labels, timed = loaders.study_votes(study)
    flags = study_rater_flags(study, timed)
    clients = loaders.study_rater_clients(study)
    cohorts = loaders.study_exclusions(study)
    excluded = excluded_raters(cohorts, flags, clients)
    votes = without_raters(all_votes, excluded) if excluded else all_votes
    voters = set(votes.raters)
    groups = loaders.study_rater_groups(study, group_field)
    return _Inputs(
        all_votes=all_votes,
        votes=votes,
        labels=labels,
        groups={rater: group for rater, group in groups.items() if rater in voters},
        flags={rater: f for rater, f in flags.items() if rater not in excluded},
        clients=clients,
        cohorts=cohorts,
        excluded=excluded,
    )


def _describe_quality(quality: dict, inputs: _Inputs) -> None:
    quality["clients"] = {r: inputs.clients[r] for r in inputs.flags if r in inputs.clients}
    quality["excluded"] = {
        "cohorts": [list(cohort) for cohort in inputs.cohorts],
        "raters": len(inputs.excluded & set(inputs.all_votes.raters)),
        "votes": inputs.all_votes.n_votes - inputs.votes.n_votes,
    }


def _extras(inputs: _Inputs, group_field: str) -> dict:
    return {
        "labels": {"values": inputs.labels.values, "contexts": inputs.labels.contexts},
        "bridging_groups": {
            "field": group_field,
            "raters_with_group": len(inputs.groups),
            "groups": sorted(set(inputs.groups.values())),
        },
    }


def study_rater_flags(
    study: Study, timed: TimedColumns | None = None
) -> dict[str, tuple[str, ...]]:
    """Rater id -> flags, from the study's arrivals and timed votes (settings' thresholds);
    ``timed``: the timed votes when already read."""
    votes = loaders.study_timed_votes(study) if timed is None else timed
    return flag_raters(loaders.study_rater_arrivals(study), votes, flag_thresholds())


def excluded_raters(
    cohorts: list[tuple[str, str]], flags: dict[str, tuple[str, ...]], clients: dict[str, str]
) -> set[str]:
    """The raters in any excluded cohort: carrying an excluded flag, or from an excluded client."""
    out_flags = {value for kind, value in cohorts if kind == RaterExclusion.Kind.FLAG}
    out_clients = {value for kind, value in cohorts if kind == RaterExclusion.Kind.CLIENT}
    by_flag = {rater for rater, have in flags.items() if out_flags.intersection(have)}
    return by_flag | {rater for rater, client in clients.items() if client in out_clients}


def flag_thresholds() -> FlagThresholds:
    return FlagThresholds(
        burst_count=settings.MGE_FLAG_BURST_COUNT,
        burst_minutes=settings.MGE_FLAG_BURST_MINUTES,
        reading_chars_per_second=settings.MGE_FLAG_READING_CHARS_PER_SECOND,
        fast_share=settings.MGE_FLAG_FAST_SHARE,
        pattern_min_votes=settings.MGE_FLAG_PATTERN_MIN_VOTES,
        pattern_group=settings.MGE_FLAG_PATTERN_GROUP,
        constant_min_votes=settings.MGE_FLAG_CONSTANT_MIN_VOTES,
    )


def gate_thresholds() -> GateThresholds:
    return GateThresholds(max_flagged_vote_share=settings.MGE_GATE_MAX_FLAGGED_SHARE)
