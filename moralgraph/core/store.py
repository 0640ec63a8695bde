"""A built graph in pieces, so that a page reads only what it shows. Pure: no Django.

The JSON form of the aggregation (:func:`moralgraph.core.dumps` read back, with the ``labels``
the Django side adds) runs to tens of megabytes at 100k votes and hundreds at a million, too
much for one row and for every page that needs one context. :func:`split_result` cuts it into

* a *summary*: everything but the context sections, the global graph and the value titles, with
  ``contexts`` replaced by a small index (sizes, winner, top of the ranking, by context id);
* one *section* per context (key ``context:<id>``) and one for the global graph (``global``),
  each the result's own section plus ``labels`` in the result's shape, holding only the titles
  of the values it names, so readers of a section work as they did on the whole result. The
  global section keeps only kept edges (all pairs are in the export).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

GLOBAL_SECTION = "global"
TOP_VALUES = 5
#: Parts of the result that live in sections, not in the summary.
SECTIONED = ("contexts", "global", "labels")


def section_key(context_id: object) -> str:
    """The key of a context's section; ids given as ints or text give the same key."""
    return f"context:{context_id}"


def split_result(result: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(summary, {key: section})`` of a JSON-ready aggregation result (see module doc)."""
    labels = result.get("labels") or {}
    titles = {str(k): str(v) for k, v in (labels.get("values") or {}).items()}
    names = {str(k): str(v) for k, v in (labels.get("contexts") or {}).items()}
    contexts = {str(k): v for k, v in (result.get("contexts") or {}).items()}
    sections = {
        section_key(cid): _context_section(cid, section, titles, names)
        for cid, section in contexts.items()
    }
    sections[GLOBAL_SECTION] = _global_section(result.get("global") or {}, titles)
    summary = {key: value for key, value in result.items() if key not in SECTIONED}
    summary["contexts"] = {
        cid: _context_entry(section, titles, names.get(cid)) for cid, section in contexts.items()
    }
    return summary, sections


def context_piece(
    context_id: object,
    section: Mapping[str, Any],
    titles: Mapping[str, str],
    names: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One context of a JSON-ready result as :func:`split_result` cuts it: its entry in the
    summary's index and its stored section (``titles`` and ``names`` from
    :func:`label_tables`)."""
    cid = str(context_id)
    entry = _context_entry(section, titles, names.get(cid))
    return entry, _context_section(cid, section, titles, names)


def global_piece(overall: Mapping[str, Any], titles: Mapping[str, str]) -> dict[str, Any]:
    """The stored global section of a JSON-ready result (see :func:`split_result`)."""
    return _global_section(overall, titles)


def label_tables(labels: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Value titles and context names by id as text, from a result's ``labels``."""
    titles = {str(k): str(v) for k, v in (labels.get("values") or {}).items()}
    names = {str(k): str(v) for k, v in (labels.get("contexts") or {}).items()}
    return titles, names


def _global_section(overall: Mapping[str, Any], titles: Mapping[str, str]) -> dict[str, Any]:
    """The global ranking and only its kept edges: every pair ever voted on is by far the
    biggest part of a result, and the export, not a page, is where the rest is read."""
    kept = [edge for edge in overall.get("edges") or [] if edge.get("kept")]
    section = {**overall, "edges": kept}
    return {**section, "labels": {"values": _named(section, titles)}}


def _context_section(
    context_id: str, section: Mapping[str, Any], titles: Mapping[str, str], names: Mapping[str, str]
) -> dict[str, Any]:
    known = {context_id: names[context_id]} if context_id in names else {}
    return {**section, "labels": {"values": _named(section, titles), "contexts": known}}


def _context_entry(
    section: Mapping[str, Any], titles: Mapping[str, str], name: str | None
) -> dict[str, Any]:
    """What the context picker and the reports page show of one context section."""
    edges = section.get("edges") or []
    ranking = section.get("ranking") or []
    winner = section.get("winner")
    intervals = {str(row["value"]): row for row in section.get("bradley_terry") or []}
    return {
        "name": name,
        "ranked": len(ranking),
        "values": len({str(row["value"]) for row in ranking} | set(_edge_ends(edges))),
        "edges": len(edges),
        "pairs": len({frozenset(_ends(edge)) for edge in edges}),
        "kept_edges": sum(1 for edge in edges if edge.get("kept")),
        "bridged_edges": sum(1 for edge in edges if (edge.get("bridging") or {}).get("bridged")),
        "contested_sets": len(section.get("contested_sets") or []),
        "votes": sum((edge.get("counts") or {}).get("impressions", 0) for edge in edges) // 2,
        "winner": {**winner, "title": titles.get(str(winner["value"]))} if winner else None,
        "top": [
            {
                "value": row["value"],
                "title": titles.get(str(row["value"])),
                "score": row["score"],
                "interval": intervals.get(str(row["value"])),
            }
            for row in ranking[:TOP_VALUES]
        ],
    }


def _named(section: Mapping[str, Any], titles: Mapping[str, str]) -> dict[str, str]:
    """The titles of every value the section mentions, by id as text."""
    ids = set(_edge_ends(section.get("edges") or []))
    for part in ("ranking", "bradley_terry"):
        ids.update(str(row["value"]) for row in section.get(part) or [])
    ids.update(str(member) for members in section.get("contested_sets") or [] for member in members)
    if section.get("winner"):
        ids.add(str(section["winner"]["value"]))
    return {value_id: titles[value_id] for value_id in sorted(ids) if value_id in titles}


def _ends(edge: Mapping[str, Any]) -> tuple[str, str]:
    return str(edge["sourceValueId"]), str(edge["wiserValueId"])


def _edge_ends(edges: Iterable[Mapping[str, Any]]) -> Iterable[str]:
    return (end for edge in edges for end in _ends(edge))
