"""A result cut into a summary and sections: every context's data in its own section with the
titles it names, the summary small (no per-value titles but the winners' and top fives'), read
from the real aggregation output (the pure core on a handful of votes)."""

import json

import pytest

from moralgraph.core import (
    GLOBAL_SECTION,
    section_key,
    split_result,
)
from tests.graph_support import stored_result, upheld

GRIEF, DOUBT = 10, 20
# Eight values in grief, each found wiser than the one before; two more only in doubt.
CHAIN = list(range(1, 9))
DOUBTERS = (101, 102)
TITLES = {value: f"Value number {value} title" for value in [*CHAIN, *DOUBTERS]}


@pytest.fixture(scope="module")
def result():
    """Stored as the dashboard stores it: ``dumps`` read back, with labels."""
    rows = [row for a, b in zip(CHAIN, CHAIN[1:], strict=False) for row in upheld(GRIEF, a, b)]
    rows += [("r0", *DOUBTERS, DOUBT, "not_wiser"), ("r1", *DOUBTERS, DOUBT, "unsure")]
    return stored_result(rows, TITLES, {GRIEF: "grief", DOUBT: "doubt"})


@pytest.fixture(scope="module")
def pieces(result):
    return split_result(result)


def str_title(item):
    return str(item[0]), item[1]


def without_labels(section):
    return {key: value for key, value in section.items() if key != "labels"}


def test_each_context_and_the_global_graph_get_their_own_section_unchanged(result, pieces):
    _, sections = pieces
    assert set(sections) == {section_key(GRIEF), section_key(DOUBT), GLOBAL_SECTION}
    for context_id, section in result["contexts"].items():
        assert without_labels(sections[section_key(context_id)]) == section
    overall = without_labels(sections[GLOBAL_SECTION])
    assert overall["ranking"] == result["global"]["ranking"]
    assert overall["edges"] == [edge for edge in result["global"]["edges"] if edge["kept"]]
    assert len(overall["edges"]) < len(result["global"]["edges"])  # the fixture has unkept pairs


def test_a_section_names_only_its_own_values_and_context(pieces):
    _, sections = pieces
    grief, doubt = sections[section_key(GRIEF)], sections[section_key(DOUBT)]
    assert grief["labels"] == {
        "values": {str(v): TITLES[v] for v in CHAIN},
        "contexts": {str(GRIEF): "grief"},
    }
    assert doubt["labels"]["values"] == {str(v): TITLES[v] for v in DOUBTERS}
    overall = sections[GLOBAL_SECTION]
    named = {str(e["value"]) for e in overall["ranking"]} | {
        str(e[end]) for e in overall["edges"] for end in ("sourceValueId", "wiserValueId")
    }
    assert overall["labels"] == {
        "values": {k: t for k, t in map(str_title, TITLES.items()) if k in named}
    }


def test_the_summary_keeps_everything_else_of_the_result(result, pieces):
    summary, _ = pieces
    rest = {k: v for k, v in result.items() if k not in ("contexts", "global", "labels")}
    assert {k: v for k, v in summary.items() if k != "contexts"} == rest
    assert set(rest) >= {"counts", "config", "algorithm", "notes", "bradley_terry", "reliability"}


def test_the_summary_indexes_each_context_with_its_sizes_winner_and_top_five(result, pieces):
    summary, _ = pieces
    grief = result["contexts"][str(GRIEF)]
    entry = summary["contexts"][str(GRIEF)]
    top = grief["ranking"][0]["value"]
    assert entry["winner"] == {**grief["winner"], "title": TITLES[top]}
    assert [row["value"] for row in entry["top"]] == [r["value"] for r in grief["ranking"][:5]]
    intervals = {row["value"]: row for row in grief["bradley_terry"]}
    assert entry["top"][0] == {
        "value": top,
        "title": TITLES[top],
        "score": grief["ranking"][0]["score"],
        "interval": intervals[top],
    }
    kept = sum(1 for edge in grief["edges"] if edge["kept"])
    assert {k: entry[k] for k in ("name", "ranked", "values", "edges", "pairs", "votes")} == {
        "name": "grief",
        "ranked": len(grief["ranking"]),
        "values": 8,
        "edges": 14,
        "pairs": 7,
        "votes": 28,
    }
    assert (entry["kept_edges"], entry["bridged_edges"], entry["contested_sets"]) == (kept, 0, 0)
    doubt = summary["contexts"][str(DOUBT)]
    assert (doubt["ranked"], doubt["winner"], doubt["top"], doubt["votes"]) == (0, None, [], 2)


def test_the_summary_holds_no_titles_but_the_winners_and_the_top_fives(result, pieces):
    summary, _ = pieces
    text = json.dumps(summary)
    shown = {value for value, title in TITLES.items() if title in text}
    ranking = result["contexts"][str(GRIEF)]["ranking"]
    assert shown == {row["value"] for row in ranking[:5]}
    assert len(ranking) == 8 and "labels" not in summary


def test_ids_as_ints_or_text_name_the_same_section():
    assert section_key(GRIEF) == section_key(str(GRIEF)) == "context:10"


def test_a_result_without_votes_has_an_empty_index_and_an_empty_global_section():
    summary, sections = split_result({"counts": {"votes": 0}, "contexts": {}})
    assert summary == {"counts": {"votes": 0}, "contexts": {}}
    assert sections == {GLOBAL_SECTION: {"edges": [], "labels": {"values": {}}}}
