"""Where one value sits in a built moral graph: the participant's "where did my input go?".

Reads sections of the JSON form of :func:`moralgraph.core.aggregate` as
:func:`moralgraph.core.split_result` cuts them (each with the ``labels`` of the values it names),
so ids may be ints or the strings JSON turned its keys into; they are compared as text.
A value is placed in its context's PageRank ranking, or in the global one when that context
has no ranking. Its neighbours come from the kept edges there: an edge
``sourceValueId -> wiserValueId`` says voters found the second wiser than the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NEIGHBOURS = 3


@dataclass(frozen=True)
class ValuePosition:
    """A value's place in one ranking of a built graph.

    ``overall`` is True when the context had no ranking and the global one was used; then
    there is no winner. ``winner_published`` says whether a winner passed every check.
    """

    rank: int
    ranked: int
    overall: bool = False
    is_winner: bool = False
    winner_published: bool = False
    wiser_than: tuple[str, ...] = ()
    less_wise_than: tuple[str, ...] = ()

    @property
    def rank_ordinal(self) -> str:
        """The rank in English: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st."""
        teens = self.rank % 100 in (11, 12, 13)
        suffix = "th" if teens else {1: "st", 2: "nd", 3: "rd"}.get(self.rank % 10, "th")
        return f"{self.rank}{suffix}"


def value_position(
    context: Mapping[str, Any] | None, overall: Mapping[str, Any] | None, value_id: object
) -> ValuePosition | None:
    """The position of ``value_id`` in the ``context`` section, or in the ``overall`` (global)
    section when the context has none or no ranking; None if unranked there.

    Neighbours are the first :data:`NEIGHBOURS` by the edge's wiser-likelihood, then its
    count of "wiser" answers, and are named by the titles in the section's ``labels``.
    """
    section = context if context and context.get("ranking") else overall or {}
    fallback = section is not context
    ids = [str(entry["value"]) for entry in section.get("ranking") or []]
    mine = str(value_id)
    if mine not in ids:
        return None
    winner = None if fallback else section.get("winner")
    is_winner = winner is not None and str(winner["value"]) == mine
    wiser_than, less_wise_than = _neighbours(section.get("edges") or [], mine)
    names = _titles(section)
    return ValuePosition(
        rank=ids.index(mine) + 1,
        ranked=len(ids),
        overall=fallback,
        is_winner=is_winner,
        winner_published=is_winner and not winner.get("reasons"),
        wiser_than=tuple(names.get(v, f"Value {v}") for v in wiser_than),
        less_wise_than=tuple(names.get(v, f"Value {v}") for v in less_wise_than),
    )


def _neighbours(edges: Iterable[Mapping[str, Any]], mine: str) -> tuple[list[str], list[str]]:
    """Ids of the values ``mine`` was found wiser than, and of those found wiser than it."""
    touching = (edge for edge in edges if edge.get("kept") and mine in _ends(edge))
    kept = sorted(touching, key=_strength)
    below = [str(e["sourceValueId"]) for e in kept if str(e["wiserValueId"]) == mine]
    above = [str(e["wiserValueId"]) for e in kept if str(e["sourceValueId"]) == mine]
    return _first_distinct(below), _first_distinct(above)


def _ends(edge: Mapping[str, Any]) -> tuple[str, str]:
    return str(edge["sourceValueId"]), str(edge["wiserValueId"])


def _strength(edge: Mapping[str, Any]) -> tuple[float, int, tuple[int, str], tuple[int, str]]:
    likelihood = (edge.get("summary") or {}).get("wiserLikelihood") or 0.0
    wiser = (edge.get("counts") or {}).get("markedWiser") or 0
    return (-likelihood, -wiser, _id_key(edge["sourceValueId"]), _id_key(edge["wiserValueId"]))


def _id_key(value_id: object) -> tuple[int, str]:
    """Numeric ids in numeric order ("9" before "10"), whether given as ints or text."""
    text = str(value_id)
    return (len(text), text) if text.isdigit() else (1 << 30, text)


def _first_distinct(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))[:NEIGHBOURS]


def _titles(section: Mapping[str, Any]) -> dict[str, str]:
    labels = (section.get("labels") or {}).get("values") or {}
    return {str(value_id): str(title) for value_id, title in labels.items()}
