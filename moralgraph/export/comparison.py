"""``comparison.json``: what changed between two stored builds of a study. Pure: no Django.

The changes come from :func:`moralgraph.core.compare.compare_builds`, whose ids are the
database's; here they take the bundle's prefixed keys (``c3`` a context, ``v12`` a value)
and the two builds are named (id, label, graph version, when, from how many votes), so a
reader can line the file up with other bundles of the same study.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

EDGE_LISTS = ("edges_appeared", "edges_flipped", "edges_lost_support")


@dataclass(frozen=True)
class BuildRef:
    """One stored build as the comparison names it."""

    id: int
    label: str
    graph_version: str
    built_at: str  # ISO 8601, UTC
    votes: int


@dataclass(frozen=True)
class ComparisonInput:
    earlier: BuildRef
    later: BuildRef
    changes: Mapping[str, Any]  # compare_builds() output, ids ours


def _value(pk: object) -> str | None:
    return None if pk is None else f"v{pk}"


def context_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """One context's changes with values and edges under bundle keys."""
    winner = changes["winner"]
    return {
        "values_added": [_value(v) for v in changes["values_added"]],
        **{name: [[_value(a), _value(b)] for a, b in changes[name]] for name in EDGE_LISTS},
        "winner": {"before": _value(winner["before"]), "after": _value(winner["after"])},
        "winner_changed": bool(changes["winner_changed"]),
    }


def comparison_document(comparison: ComparisonInput) -> dict[str, Any]:
    """The content of ``comparison.json``."""
    changes = comparison.changes
    return {
        "earlier": asdict(comparison.earlier),
        "later": asdict(comparison.later),
        "contexts": {
            f"c{context}": context_changes(section)
            for context, section in changes["contexts"].items()
        },
        "gate": changes["gate"],
        "totals": changes["totals"],
    }
