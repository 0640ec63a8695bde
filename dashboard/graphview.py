"""What the dashboard's graph view draws, from a stored graph build. Pure: no Django.

It reads the pieces :func:`moralgraph.core.split_result` cuts from the JSON form of
:func:`moralgraph.aggregation.study_graph`: the summary's index of contexts for the picker, and
one context's section (edge rows keyed by ordered pair, a PageRank ranking, the winner and the
titles of its values) for the drawing. The aggregation counts every vote on
``A -> B`` on both ordered pairs ``(A, B)`` and ``(B, A)``, and the two rows mirror each other
(``less_wise`` of one is ``wiser`` of the other; both count the vote as an impression). So the
view draws one arrow per pair of values: the row that is kept, else the one with the higher
wiser-likelihood (the direction the voters favoured), else the one with more answers. Its
``votes`` is the pair's impressions, every vote on the pair in either direction.

Sizes, with :math:`s_{min}, s_{max}` the context's lowest and highest PageRank score and
:math:`v_{max}` its busiest pair:

.. math::

    r = R_{rank} + (R_{max} - R_{rank}) \\sqrt{\\frac{s - s_{min}}{s_{max} - s_{min}}}, \\qquad
    w = W_{min} + (W_{max} - W_{min}) \\, v / v_{max}

(:math:`R_{max}` when every score ties; :math:`R_{min}` for values without a score). The
radius spans the context's own range because PageRank gives every ranked value a floor of
:math:`(1 - d) / N`: measured from zero, all circles would look alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

RADIUS_MIN, RADIUS_RANKED, RADIUS_MAX = 8.0, 12.0, 32.0
WIDTH_MIN, WIDTH_MAX = 1.5, 10.0
DIGITS = 2


def context_graph(
    section: Mapping[str, Any], context_id: int, values: Mapping[int, Mapping[str, Any]]
) -> dict[str, Any]:
    """Nodes and edges of one context's ``section``, ready to draw.

    ``values`` maps a value id to its current ``title``, ``description``, ``policies`` and
    ``cards`` (how many confirmed cards it gathers); a value missing there keeps the title it
    had when the graph was built.
    """
    edges = _pair_edges(section["edges"])
    return {
        "context": {"id": int(context_id), "name": context_name(section, context_id)},
        "nodes": _nodes(section, edges, values),
        "edges": edges,
        "winner": _winner(section),
    }


def contexts_index(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every context of a build's ``summary`` with its size and winner, by name then id."""
    index = [_context_entry(int(key), entry) for key, entry in summary["contexts"].items()]
    return sorted(index, key=lambda entry: (entry["name"].casefold(), entry["id"]))


def context_value_ids(section: Mapping[str, Any]) -> list[int]:
    """The ids of the values drawn in one context, ascending (to look up their details)."""
    return sorted(_node_ids(section, _pair_edges(section["edges"])))


def context_name(section: Mapping[str, Any], context_id: int) -> str:
    names = section.get("labels", {}).get("contexts", {})
    return str(names.get(str(context_id), f"Context {context_id}"))


def _context_entry(context_id: int, entry: Mapping[str, Any]) -> dict[str, Any]:
    winner = entry["winner"]
    return {
        "id": context_id,
        "name": entry["name"] or f"Context {context_id}",
        "values": entry["values"],
        "edges": entry["pairs"],
        "votes": entry["votes"],
        "winner": (winner["title"] or f"Value {winner['value']}") if winner else None,
    }


def _label(section: Mapping[str, Any], value_id: int) -> str:
    titles = section.get("labels", {}).get("values", {})
    return str(titles.get(str(value_id), f"Value {value_id}"))


def _winner(section: Mapping[str, Any]) -> dict[str, Any] | None:
    """The context's top value and why it may not be published (no reasons: publishable)."""
    winner = section.get("winner")
    if not winner:
        return None
    reasons = list(winner.get("reasons", []))
    return {"value": int(winner["value"]), "publishable": not reasons, "reasons": reasons}


def edge_rows(graph: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The drawn edges as table rows with both values' titles: kept ones first, then by votes.

    The table is the graph for readers without JavaScript or without sight of the drawing."""
    titles = {node["id"]: node["title"] for node in graph["nodes"]}
    rows = [
        {**edge, "source_title": titles[edge["source"]], "target_title": titles[edge["target"]]}
        for edge in graph["edges"]
    ]
    return sorted(
        rows, key=lambda row: (not row["kept"], -row["votes"], row["source"], row["target"])
    )


def _pair_edges(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One edge per pair of values, oriented from less wise to wiser, by (source, target)."""
    best: dict[frozenset[int], Mapping[str, Any]] = {}
    for row in sorted(rows, key=_ends):
        pair = frozenset(_ends(row))
        if pair not in best or _preference(row) > _preference(best[pair]):
            best[pair] = row
    edges = [_edge(row) for row in best.values()]
    most = max((edge["votes"] for edge in edges), default=0)
    for edge in edges:
        edge["width"] = _scaled(edge["votes"], most, WIDTH_MIN, WIDTH_MAX, root=False)
    return sorted(edges, key=lambda edge: (edge["source"], edge["target"]))


def _ends(row: Mapping[str, Any]) -> tuple[int, int]:
    return int(row["sourceValueId"]), int(row["wiserValueId"])


def _preference(row: Mapping[str, Any]) -> tuple[bool, float, int]:
    likelihood = row["summary"]["wiserLikelihood"] or 0.0
    return bool(row["kept"]), likelihood, _total(row["counts"])


def _total(counts: Mapping[str, int]) -> int:
    keys = ("markedWiser", "markedNotWiser", "markedLessWise", "markedUnsure")
    return sum(counts[key] for key in keys)


def _edge(row: Mapping[str, Any]) -> dict[str, Any]:
    source, target = _ends(row)
    counts = row["counts"]
    return {
        "source": source,
        "target": target,
        "wiser": counts["markedWiser"],
        "not_wiser": counts["markedNotWiser"],
        "less_wise": counts["markedLessWise"],
        "unsure": counts["markedUnsure"],
        "total": _total(counts),
        "votes": counts["impressions"],
        "likelihood": row["summary"]["wiserLikelihood"],
        "kept": bool(row["kept"]),
    }


def _node_ids(section: Mapping[str, Any], edges: list[dict[str, Any]]) -> set[int]:
    ids = {int(entry["value"]) for entry in section.get("ranking", [])}
    return ids | {edge[end] for edge in edges for end in ("source", "target")}


def _nodes(
    section: Mapping[str, Any],
    edges: list[dict[str, Any]],
    values: Mapping[int, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Ranked values first (by score, then id), then the unranked ones by id."""
    scores = {int(entry["value"]): entry["score"] or 0.0 for entry in section.get("ranking", [])}
    ranked = sorted(scores, key=lambda value_id: (-scores[value_id], value_id))
    rank = {value_id: position for position, value_id in enumerate(ranked, start=1)}
    unranked = sorted(_node_ids(section, edges) - set(rank))
    winner = _winner(section)
    low, high = min(scores.values(), default=0.0), max(scores.values(), default=0.0)
    return [
        {
            "id": value_id,
            "title": str(values.get(value_id, {}).get("title") or _label(section, value_id)),
            "score": scores.get(value_id, 0.0),
            "rank": rank.get(value_id),
            "winner": bool(winner and winner["value"] == value_id),
            "cards": int(values.get(value_id, {}).get("cards", 0)),
            "radius": _radius(scores.get(value_id), low, high),
        }
        for value_id in ranked + unranked
    ]


def _radius(score: float | None, low: float, high: float) -> float:
    if score is None:
        return RADIUS_MIN
    if high <= low:
        return RADIUS_MAX
    return _scaled(score - low, high - low, RADIUS_RANKED, RADIUS_MAX, root=True)


def _scaled(amount: float, most: float, low: float, high: float, *, root: bool) -> float:
    """``low`` at zero, ``high`` at ``most``; by square root when ``root`` (area, not length)."""
    if most <= 0 or amount <= 0:
        return low
    share = min(amount / most, 1.0)
    return round(low + (high - low) * (math.sqrt(share) if root else share), DIGITS)
