"""The graph view's data: nodes sized by score, one arrow per pair sized by votes, built from
the summary and sections of the real aggregation output (the pure core, run on a handful of
votes)."""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dashboard.graphview import (
    RADIUS_MAX,
    RADIUS_MIN,
    RADIUS_RANKED,
    WIDTH_MAX,
    WIDTH_MIN,
    context_graph,
    context_value_ids,
    contexts_index,
)
from moralgraph.core import Config, VoteArrays, aggregate, dumps, section_key, split_result

GRIEF, DOUBT = 10, 20
HONESTY, PRESENCE, COURAGE, RULES = 1, 2, 3, 4
FAST = Config(bootstrap_samples=20, split_half_repeats=4)


def votes_on(context, source, target, *answers):
    return [(f"r{n}", source, target, context, answer) for n, answer in enumerate(answers)]


def result_of(rows, labels=None):
    """What the dashboard stores: the JSON text of the aggregation, read back."""
    columns = [np.asarray(column, dtype=object) for column in zip(*rows, strict=True)]
    result = aggregate(VoteArrays.from_columns(*columns), FAST)
    result["labels"] = labels or {
        "values": {HONESTY: "Honesty", PRESENCE: "Gentle Presence", COURAGE: "Courage"},
        "contexts": {GRIEF: "When the user is grieving", DOUBT: "When the user doubts"},
    }
    return json.loads(dumps(result))


@pytest.fixture(scope="module")
def stored(result):
    """The result as a build stores it: (summary, sections)."""
    return split_result(result)


def section_of(stored, context_id):
    return stored[1][section_key(context_id)]


@pytest.fixture(scope="module")
def grief(stored):
    return section_of(stored, GRIEF)


@pytest.fixture(scope="module")
def doubt(stored):
    return section_of(stored, DOUBT)


@pytest.fixture(scope="module")
def result():
    """In grief: Honesty -> Presence -> Courage upheld; Courage -> Rules judged less wise
    (so Rules -> Courage is what voters said). In doubt: a single undecided pair."""
    rows = [
        *votes_on(GRIEF, HONESTY, PRESENCE, "wiser", "wiser", "wiser", "wiser", "unsure"),
        *votes_on(GRIEF, PRESENCE, COURAGE, "wiser", "wiser", "wiser", "not_wiser"),
        *votes_on(GRIEF, COURAGE, RULES, "less_wise", "less_wise", "less_wise"),
        *votes_on(DOUBT, HONESTY, COURAGE, "not_wiser", "unsure"),
    ]
    return result_of(rows)


def details(**titles):
    ids = {"honesty": HONESTY, "presence": PRESENCE, "courage": COURAGE, "rules": RULES}
    return {ids[name]: {"title": title, "cards": 2} for name, title in titles.items()}


def test_nodes_come_ranked_by_score_then_unranked_by_id(grief):
    graph = context_graph(grief, GRIEF, {})
    ranked = [node for node in graph["nodes"] if node["rank"] is not None]
    scores = [node["score"] for node in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [node["rank"] for node in ranked] == list(range(1, len(ranked) + 1))
    assert {node["id"] for node in graph["nodes"]} == {HONESTY, PRESENCE, COURAGE, RULES}
    assert [node["id"] for node in graph["nodes"]][:1] == [COURAGE]


def test_only_the_winner_is_flagged_and_its_reasons_are_kept(result, grief):
    graph = context_graph(grief, GRIEF, {})
    assert [node["id"] for node in graph["nodes"] if node["winner"]] == [COURAGE]
    winner = result["contexts"][str(GRIEF)]["winner"]
    assert graph["winner"] == {
        "value": COURAGE,
        "publishable": not winner["reasons"],
        "reasons": winner["reasons"],
    }


def test_the_top_score_gets_the_largest_radius_and_unscored_values_the_smallest(grief, doubt):
    nodes = context_graph(grief, GRIEF, {})["nodes"]
    assert nodes[0]["radius"] == RADIUS_MAX
    assert nodes[-1]["radius"] == RADIUS_RANKED
    radii = [node["radius"] for node in nodes]
    assert radii == sorted(radii, reverse=True)
    unranked = context_graph(doubt, DOUBT, {})["nodes"]
    assert [node["radius"] for node in unranked] == [RADIUS_MIN, RADIUS_MIN]


def ranked_only(*scores):
    ranking = [{"value": n, "score": score} for n, score in enumerate(scores, start=1)]
    return {"edges": [], "ranking": ranking, "winner": None}


def test_radius_spans_the_contexts_score_range_by_square_root_so_area_tracks_score():
    nodes = context_graph(ranked_only(0.5, 0.2, 0.1), 5, {})["nodes"]
    middle = RADIUS_RANKED + (RADIUS_MAX - RADIUS_RANKED) * 0.5
    assert [node["radius"] for node in nodes] == [RADIUS_MAX, middle, RADIUS_RANKED]


def test_tied_scores_all_get_the_largest_radius():
    nodes = context_graph(ranked_only(0.3, 0.3), 5, {})["nodes"]
    assert [node["radius"] for node in nodes] == [RADIUS_MAX, RADIUS_MAX]


def test_each_pair_is_one_arrow_from_the_less_wise_to_the_wiser_value(grief):
    edges = context_graph(grief, GRIEF, {})["edges"]
    assert [(e["source"], e["target"]) for e in edges] == [
        (HONESTY, PRESENCE),
        (PRESENCE, COURAGE),
        (RULES, COURAGE),
    ]
    first = edges[0]
    assert (first["wiser"], first["not_wiser"], first["less_wise"], first["unsure"]) == (4, 0, 0, 1)
    assert first["total"] == 5 and first["votes"] == 5 and first["kept"] is True


def test_answers_of_less_wise_turn_the_arrow_back_towards_the_hypothesis_source(grief):
    edges = context_graph(grief, GRIEF, {})["edges"]
    reversed_pair = next(e for e in edges if {e["source"], e["target"]} == {COURAGE, RULES})
    assert (reversed_pair["source"], reversed_pair["target"]) == (RULES, COURAGE)
    assert reversed_pair["wiser"] == 3 and reversed_pair["kept"] is True


def test_an_undecided_pair_keeps_the_direction_it_was_asked_in_and_is_not_kept(doubt):
    (edge,) = context_graph(doubt, DOUBT, {})["edges"]
    assert (edge["source"], edge["target"]) == (HONESTY, COURAGE)
    assert (edge["not_wiser"], edge["unsure"], edge["kept"]) == (1, 1, False)
    assert [node["rank"] for node in context_graph(doubt, DOUBT, {})["nodes"]] == [None, None]


def test_edge_width_scales_with_the_votes_on_the_pair(grief):
    edges = {(e["source"], e["target"]): e for e in context_graph(grief, GRIEF, {})["edges"]}
    assert edges[HONESTY, PRESENCE]["width"] == WIDTH_MAX
    assert edges[RULES, COURAGE]["width"] == pytest.approx(
        WIDTH_MIN + (WIDTH_MAX - WIDTH_MIN) * 3 / 5, abs=0.01
    )


def test_titles_and_card_counts_come_from_the_values_else_from_the_labels(grief):
    nodes = {n["id"]: n for n in context_graph(grief, GRIEF, details(honesty="Candour"))["nodes"]}
    assert nodes[HONESTY]["title"] == "Candour" and nodes[HONESTY]["cards"] == 2
    assert nodes[PRESENCE]["title"] == "Gentle Presence" and nodes[PRESENCE]["cards"] == 0
    assert nodes[RULES]["title"] == f"Value {RULES}"


def test_a_script_title_is_passed_through_as_plain_text(grief):
    nodes = context_graph(grief, GRIEF, details(courage="<script>alert(1)</script>"))["nodes"]
    assert nodes[0]["title"] == "<script>alert(1)</script>"


def test_an_empty_context_has_no_nodes_edges_or_winner():
    empty = {"edges": [], "ranking": [], "winner": None}
    summary, sections = split_result({"contexts": {"7": empty}})
    graph = context_graph(sections[section_key(7)], 7, {})
    assert graph == {
        "context": {"id": 7, "name": "Context 7"},
        "nodes": [],
        "edges": [],
        "winner": None,
    }
    assert contexts_index(summary) == [
        {"id": 7, "name": "Context 7", "values": 0, "edges": 0, "votes": 0, "winner": None}
    ]


def test_an_unknown_context_has_no_section_to_draw(stored):
    assert section_key(999) not in stored[1]


def test_the_index_lists_contexts_by_name_with_sizes_votes_and_winner(stored):
    assert contexts_index(stored[0]) == [
        {
            "id": DOUBT,
            "name": "When the user doubts",
            "values": 2,
            "edges": 1,
            "votes": 2,
            "winner": None,
        },
        {
            "id": GRIEF,
            "name": "When the user is grieving",
            "values": 4,
            "edges": 3,
            "votes": 12,
            "winner": "Courage",
        },
    ]


def test_the_value_ids_of_a_context_are_its_drawn_nodes_ascending(grief):
    assert context_value_ids(grief) == [HONESTY, PRESENCE, COURAGE, RULES]


def test_the_same_section_in_any_row_order_gives_the_same_view(grief):
    shuffled = json.loads(json.dumps(grief))
    random.Random(3).shuffle(shuffled["edges"])
    random.Random(4).shuffle(shuffled["ranking"])
    assert context_graph(shuffled, GRIEF, {}) == context_graph(grief, GRIEF, {})


def test_graphview_imports_without_django():
    code = (
        "import sys, dashboard.graphview\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'django')\n"
        "assert not bad, bad\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={"PATH": "/usr/bin:/bin"}, cwd=root
    )
