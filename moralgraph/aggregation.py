"""The moral graph of a study: the pure core's :func:`aggregate` over the study's votes.

The loaders hand the core our own ids (values are :class:`CanonicalValue` ids, contexts
:class:`Context` ids), so every id in the result is already ours; ``labels`` adds their
titles and names. Same votes and config, same result: write it with
:func:`moralgraph.core.dumps` for byte-identical JSON.
"""

from __future__ import annotations

from typing import Any

from elicitation.models import Study

from . import loaders
from .core import Config, GateThresholds, aggregate
from .core.report import Parts, aggregate_parts

#: The demographic answer that bridging splits raters by.
BRIDGING_FIELD = "usPoliticalAffiliation"


def study_graph(
    study: Study,
    config: Config | None = None,
    *,
    thresholds: GateThresholds | None = None,
    group_field: str = BRIDGING_FIELD,
) -> dict[str, Any]:
    """Edges, rankings, Bradley-Terry, bridging and reliability for ``study``'s votes.

    Bridging runs when some voters answered ``group_field``; ``bridging_groups`` says by
    which field and how many voters have a group.
    """
    votes, labels, groups = _inputs(study, group_field)
    result = aggregate(votes, config, groups=groups or None, thresholds=thresholds)
    return {**result, **_extras(labels, groups, group_field)}


def study_graph_parts(
    study: Study,
    config: Config | None = None,
    *,
    thresholds: GateThresholds | None = None,
    group_field: str = BRIDGING_FIELD,
) -> Parts:
    """:func:`study_graph` in pieces made as they are read (see :class:`core.report.Parts`)."""
    votes, labels, groups = _inputs(study, group_field)
    parts = aggregate_parts(votes, config, groups=groups or None, thresholds=thresholds)
    parts.head.update(_extras(labels, groups, group_field))
    return parts


def _inputs(study: Study, group_field: str):
    votes, labels = loaders.study_vote_arrays(study)
    groups = loaders.study_rater_groups(study, group_field)
    voters = set(votes.raters)
    return votes, labels, {rater: group for rater, group in groups.items() if rater in voters}


def _extras(labels: loaders.VoteLabels, groups: dict[str, str], group_field: str) -> dict:
    return {
        "labels": {"values": labels.values, "contexts": labels.contexts},
        "bridging_groups": {
            "field": group_field,
            "raters_with_group": len(groups),
            "groups": sorted(set(groups.values())),
        },
    }
