"""Read the Meaning Alignment Institute's Democratic Fine-Tuning data (plain Python, no Django).

The folder holds MAI's database tables as JSON lists (meaningalignment/mge, ``dft-data/``).
What the ids refer to, checked against the published files:

* ``edge.json`` and ``edgeHypothesis.json`` ``fromId``/``toId``, and the ``valuesCardId`` of
  ``impression.json`` and ``vote.json``, are **canonicalValuesCard** ids. Every one of them is
  among the 115 canonical ids and none of the 515 other card ids ever appears; a canonical
  card and the participant card that happens to share its number have different texts.
  MAI's schema agrees (``Edge.from`` references ``CanonicalValuesCard``).
* ``valuesCard.canonicalCardId`` is MAI's deduplication: one imported :class:`CardLink` per
  card (the cards MAI's quality check marked ``invalid`` have none).
* ``deduplicatedCard.json`` and ``deduplication.json`` (and their verification tables) are a
  later re-deduplication in three generations that no vote or impression refers to: not
  imported.
* ``vote.json`` rows repeat ``impression.json`` rows (same user, draw and card): they mark
  which impressions were chosen; they add none.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import Any

EXPIRED = "DATA_EXPIRED"
OLD_STORY = "OLD"
ANSWERS = {"upgrade": "wiser", "no_upgrade": "not_wiser", "not_sure": "unsure"}
#: Dump attribute -> file names; the first that exists is read, a missing one reads as empty.
FILES = {
    "cases": ("case.json", "question.json"),
    "contexts": ("context.json",),
    "context_links": ("contextsOnCases.json", "contextsForQuestions.json"),
    "cards": ("valuesCard.json",),
    "canonical": ("canonicalValuesCard.json",),
    "chats": ("chat.json",),
    "hypotheses": ("edgeHypothesis.json",),
    "edges": ("edge.json",),
    "impressions": ("impression.json",),
    "card_votes": ("vote.json",),
    "demographics": ("demographic.json",),
}

Record = dict[str, Any]
Triple = tuple[Any, Any, str]  # MAI's (fromId, toId, contextId)


class MaiDataError(Exception):
    """The folder does not hold MAI's data as expected; rerunning cannot help."""


@dataclass(frozen=True)
class Dump:
    """MAI's tables, parsed: each a list of records as published."""

    cases: list[Record]
    contexts: list[Record]
    context_links: list[Record]
    cards: list[Record]
    canonical: list[Record]
    chats: list[Record]
    hypotheses: list[Record]
    edges: list[Record]
    impressions: list[Record]
    card_votes: list[Record]
    demographics: list[Record]


@dataclass(frozen=True)
class HypothesisRow:
    story: str
    run_id: str
    created: datetime | None
    active: bool


def read_dump(directory: Path | str) -> Dump:
    """Parse the JSON tables in ``directory``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MaiDataError(f"{directory} is not a folder")
    tables = {name: _read_table(directory, names) for name, names in FILES.items()}
    if not tables["cards"] and not tables["edges"]:
        raise MaiDataError(f"{directory} holds neither valuesCard.json nor edge.json")
    return Dump(**tables)


def _read_table(directory: Path, names: Iterable[str]) -> list[Record]:
    for name in names:
        path = directory / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8").strip()
        if not text:  # chat.json is published as an empty file
            return []
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MaiDataError(f"{path}: not JSON ({exc})") from exc
        if not isinstance(rows, list):
            raise MaiDataError(f"{path}: expected a list of records")
        return rows
    return []


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def card_fields(record: Record) -> dict[str, Any]:
    """Title, description and policies of a card in the DFT-era or the current format."""
    dft_era = "instructionsShort" in record or "evaluationCriteria" in record
    description = record.get("instructionsShort" if dft_era else "description") or ""
    policies = record.get("evaluationCriteria" if dft_era else "policies") or []
    return {"title": record["title"][:120], "description": description, "policies": policies}


def demographics_of(record: Record) -> dict[str, Any]:
    """The answers in a demographic record; expired or empty ones are missing."""
    return {
        key: value
        for key, value in record.items()
        if key not in ("id", "userId") and value not in (None, "", EXPIRED)
    }


def answer_of(edge: Record) -> str:
    name = edge.get("relationship", edge.get("type"))
    try:
        return ANSWERS[name]
    except KeyError:
        raise MaiDataError(f"unknown edge relationship {name!r}") from None


def triple(record: Record) -> Triple:
    return (record["fromId"], record["toId"], record["contextId"])


def _when(record: Record) -> tuple[str, str]:
    # MAI's timestamps share one ISO format, so they order as strings.
    return (record.get("updatedAt") or "", record.get("createdAt") or "")


def latest_votes(edges: Iterable[Record]) -> tuple[list[Record], int]:
    """One wisdom vote per (user, from, to, context), the latest; and how many were dropped."""
    latest: dict[tuple, Record] = {}
    total = 0
    for edge in edges:
        total += 1
        key = (edge["userId"], *triple(edge))
        if key not in latest or _when(edge) >= _when(latest[key]):
            latest[key] = edge
    return list(latest.values()), total - len(latest)


def hypothesis_rows(
    hypotheses: Iterable[Record], votes: Iterable[Record]
) -> dict[Triple, HypothesisRow]:
    """MAI's hypotheses, plus one for every voted (from, to, context) they lack."""
    rows = {
        triple(h): HypothesisRow(
            story=h.get("story") or "",
            run_id=h.get("runId") or h.get("hypothesisRunId") or "",
            created=parse_time(h.get("createdAt")),
            active=True,
        )
        for h in hypotheses
    }
    voted: dict[Triple, list[Record]] = defaultdict(list)
    for vote in votes:
        voted[triple(vote)].append(vote)
    for key, group in voted.items():
        if key not in rows:
            rows[key] = _hypothesis_from_votes(group)
    return rows


def _hypothesis_from_votes(votes: list[Record]) -> HypothesisRow:
    told = sorted(
        (v for v in votes if v.get("story") and v["story"] != OLD_STORY),
        key=lambda v: (v.get("createdAt") or "", v["story"]),
    )
    run_id = told[-1].get("runId") or "" if told else ""
    times = [when for v in votes if (when := parse_time(v.get("createdAt")))]
    return HypothesisRow(
        story=told[-1]["story"] if told else "",
        run_id="" if run_id == OLD_STORY else run_id,
        created=min(times, default=None),
        active=False,
    )


def _text(record: Record) -> tuple:
    fields_ = card_fields(record)
    return (fields_["title"], fields_["description"], tuple(fields_["policies"]))


def representative_cards(cards: Iterable[Record], canonical: Iterable[Record]) -> dict[Any, Any]:
    """Canonical id -> the member card with the same text, else the lowest-numbered member."""
    members: dict[Any, list[Record]] = defaultdict(list)
    for card in cards:
        if card.get("canonicalCardId") is not None:
            members[card["canonicalCardId"]].append(card)
    texts = {value["id"]: _text(value) for value in canonical}
    chosen = {}
    for value_id, group in members.items():
        same = [card["id"] for card in group if _text(card) == texts.get(value_id)]
        chosen[value_id] = min(same or [card["id"] for card in group])
    return chosen


def draw_positions(impressions: Iterable[Record]) -> dict[Any, int]:
    """Each impression's place in its draw, by MAI's impression id (the timestamps tie)."""
    draws: dict[Any, list] = defaultdict(list)
    for row in impressions:
        draws[row["drawId"]].append(row["id"])
    return {pk: place for ids in draws.values() for place, pk in enumerate(sorted(ids))}


def shown_key(row: Record) -> tuple:
    return (row["userId"], row["drawId"], row["valuesCardId"])


def first_seen(dump: Dump) -> dict[Any, datetime]:
    """Each user's earliest dated record."""
    seen: dict[Any, datetime] = {}
    for row in chain(dump.edges, dump.impressions, dump.card_votes, dump.chats):
        when, user = parse_time(row.get("createdAt")), row.get("userId")
        if when is not None and user is not None and (user not in seen or when < seen[user]):
            seen[user] = when
    return seen


def user_ids(dump: Dump) -> list[Any]:
    rows = chain(dump.edges, dump.impressions, dump.card_votes, dump.chats, dump.demographics)
    return sorted({row["userId"] for row in rows if row.get("userId") is not None})


def context_names(dump: Dump) -> list[str]:
    """Every context named anywhere, so no vote is lost to a missing context.json row."""
    rows = chain(dump.context_links, dump.hypotheses, dump.edges)
    return sorted({c["id"] for c in dump.contexts} | {r["contextId"] for r in rows})


def question_key(record: Record) -> Any:
    return record.get("caseId", record.get("questionId"))
