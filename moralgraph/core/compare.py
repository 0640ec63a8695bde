"""What changed between two stored builds of a study. Pure: no Django.

A build is its summary and its context sections as :func:`.store.split_result` cuts them
(``{"context:<id>": section}``). Between an *earlier* and a *later* build, per context:

* values added: values the later section names that the earlier one does not;
* edges appeared: ``A -> B`` kept later and not kept (or absent) earlier;
* edges flipped: ``A -> B`` kept earlier and ``B -> A`` kept later;
* edges lost support: ``A -> B`` kept earlier and not kept later (flips excluded);
* winner changed: the published-or-not top value differs;

and for the study, the publishing gate before and after with the failures gained and lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Sections = Mapping[str, Mapping[str, Any]]


def kept_edges(section: Mapping[str, Any]) -> set[tuple[str, str]]:
    """``(source, wiser)`` of the section's kept edges, ids as text."""
    return {
        (str(edge["sourceValueId"]), str(edge["wiserValueId"]))
        for edge in section.get("edges") or []
        if edge.get("kept")
    }


def named_values(section: Mapping[str, Any]) -> set[str]:
    """Every value id (as text) the section's edges and ranking name."""
    ids = {str(row["value"]) for row in section.get("ranking") or []}
    for edge in section.get("edges") or []:
        ids.update((str(edge["sourceValueId"]), str(edge["wiserValueId"])))
    return ids


def winner_of(section: Mapping[str, Any] | None) -> str | None:
    winner = (section or {}).get("winner")
    return str(winner["value"]) if winner else None


def compare_context(
    earlier: Mapping[str, Any] | None, later: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The changes in one context between two of its sections (either may be missing)."""
    before, after = kept_edges(earlier or {}), kept_edges(later or {})
    flipped = {(a, b) for a, b in before if (b, a) in after}
    return {
        "values_added": sorted(named_values(later or {}) - named_values(earlier or {})),
        "edges_appeared": _pairs(after - before - {(b, a) for a, b in flipped}),
        "edges_flipped": _pairs(flipped),
        "edges_lost_support": _pairs(before - after - flipped),
        "winner": {"before": winner_of(earlier), "after": winner_of(later)},
        "winner_changed": winner_of(earlier) != winner_of(later),
    }


def compare_gate(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, Any]:
    """The publishing gate of two summaries: publishable before and after, failures that
    appeared and that went away. A check that failed in both is neither, though its figure
    moved (builds before the gate named its checks match on the whole message)."""
    gates = [(summary.get("reliability") or {}).get("gate") or {} for summary in (earlier, later)]
    before, after = (_failures_by_check(gate) for gate in gates)
    return {
        "publishable": {
            "before": gates[0].get("publishable"),
            "after": gates[1].get("publishable"),
        },
        "failures_gained": sorted(after[c] for c in after.keys() - before.keys()),
        "failures_lost": sorted(before[c] for c in before.keys() - after.keys()),
    }


def _failures_by_check(gate: Mapping[str, Any]) -> dict[str, str]:
    failures = list(gate.get("failures") or [])
    checks = list(gate.get("checks") or failures)
    return dict(zip(checks, failures, strict=True))


def compare_builds(
    earlier: tuple[Mapping[str, Any], Sections], later: tuple[Mapping[str, Any], Sections]
) -> dict[str, Any]:
    """Every change from ``earlier`` to ``later``, each given as ``(summary, sections)``."""
    (summary_a, sections_a), (summary_b, sections_b) = earlier, later
    keys = sorted(k for k in set(sections_a) | set(sections_b) if k.startswith("context:"))
    contexts = {
        key.split(":", 1)[1]: compare_context(sections_a.get(key), sections_b.get(key))
        for key in keys
    }
    return {
        "contexts": contexts,
        "gate": compare_gate(summary_a, summary_b),
        "totals": {
            name: sum(len(c[name]) for c in contexts.values())
            for name in ("values_added", "edges_appeared", "edges_flipped", "edges_lost_support")
        }
        | {"winners_changed": sum(c["winner_changed"] for c in contexts.values())},
    }


def _pairs(edges: set[tuple[str, str]]) -> list[list[str]]:
    return [list(edge) for edge in sorted(edges)]
