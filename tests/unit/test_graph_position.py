"""Where a value sits in a built graph, read from the sections of the real aggregation output
(the pure core on a handful of votes) and from hand-made sections for the cases votes rarely
produce."""

import pytest

from moralgraph.core import (
    GLOBAL_SECTION,
    ValuePosition,
    section_key,
    split_result,
    value_position,
)
from tests.graph_support import stored_result, upheld

GRIEF, DOUBT, UNVOTED = 10, 20, 30
HONESTY, PRESENCE, COURAGE, CANDOUR, CALM, HOPE = 1, 2, 3, 4, 5, 6
TITLES = {
    HONESTY: "Honesty",
    PRESENCE: "Presence",
    COURAGE: "Courage",
    CANDOUR: "Candour",
    CALM: "Calm",
    HOPE: "Hope",
}


def undecided(context, source, target):
    return [("r0", source, target, context, "not_wiser"), ("r1", source, target, context, "unsure")]


@pytest.fixture(scope="module")
def result():
    """In grief, Presence is found wiser than Honesty, Candour, Calm and Hope, and Courage
    wiser than Presence; in doubt nothing is settled. Stored as the dashboard stores it."""
    rows = [
        *upheld(GRIEF, HONESTY, PRESENCE, voters=5),
        *upheld(GRIEF, CANDOUR, PRESENCE),
        *upheld(GRIEF, CALM, PRESENCE),
        *upheld(GRIEF, HOPE, PRESENCE, voters=3),
        *upheld(GRIEF, PRESENCE, COURAGE),
        *undecided(DOUBT, HONESTY, COURAGE),
    ]
    return stored_result(rows, TITLES, {GRIEF: "grief", DOUBT: "doubt"})


@pytest.fixture(scope="module")
def sections(result):
    return split_result(result)[1]


def placed(sections, value_id, context_id):
    """As the results page asks: the context's section, and the global one to fall back on."""
    context = sections.get(section_key(context_id))
    return value_position(context, sections[GLOBAL_SECTION], value_id)


def test_a_value_gets_its_rank_among_the_ranked_values_of_its_context(sections):
    position = placed(sections, PRESENCE, GRIEF)

    assert (position.rank, position.ranked, position.overall) == (2, 6, False)
    assert position.rank_ordinal == "2nd"
    assert not position.is_winner and not position.winner_published


def test_at_most_three_values_it_was_found_wiser_than_strongest_first(sections):
    position = placed(sections, PRESENCE, GRIEF)

    assert position.wiser_than == ("Honesty", "Candour", "Calm")
    assert position.less_wise_than == ("Courage",)


def test_the_top_value_is_the_winner_held_back_while_the_checks_fail(result, sections):
    position = placed(sections, COURAGE, GRIEF)

    assert (position.rank, position.is_winner) == (1, True)
    assert result["contexts"][str(GRIEF)]["winner"]["reasons"]
    assert position.winner_published is False
    assert position.wiser_than == ("Presence",) and position.less_wise_than == ()


def test_ids_given_as_text_find_the_same_position(sections):
    assert placed(sections, str(PRESENCE), str(GRIEF)) == placed(sections, PRESENCE, GRIEF)


def test_a_context_without_a_ranking_falls_back_to_the_global_one(result, sections):
    for context in (DOUBT, UNVOTED, None):
        position = placed(sections, PRESENCE, context)
        assert position.overall is True and position.is_winner is False
        assert position.rank == 1 + [e["value"] for e in result["global"]["ranking"]].index(
            PRESENCE
        )
        assert position.wiser_than == ("Honesty", "Candour", "Calm")


def test_a_value_outside_the_ranking_has_no_position(sections):
    assert placed(sections, 999, GRIEF) is None
    assert value_position(None, {"ranking": []}, HONESTY) is None
    assert value_position(None, None, HONESTY) is None


def handmade(reasons):
    edges = [
        {"sourceValueId": "7", "wiserValueId": "8", "kept": True},
        {"sourceValueId": "9", "wiserValueId": "8", "kept": False},
    ]
    return {
        "ranking": [{"value": "8", "score": 0.6}, {"value": "7", "score": None}],
        "edges": edges,
        "winner": {"value": "8", "score": 0.6, "bt_prob_top": None, "reasons": reasons},
        "labels": {"values": {"7": "Seven"}},
    }


def test_a_winner_without_reasons_is_published_and_unknown_titles_get_a_name():
    position = value_position(handmade([]), None, 8)

    assert position == ValuePosition(
        rank=1, ranked=2, is_winner=True, winner_published=True, wiser_than=("Seven",)
    )
    assert value_position(handmade(["too few votes"]), None, 8).winner_published is False
    assert value_position(handmade([]), None, 7).less_wise_than == ("Value 8",)


def test_a_ranked_context_is_read_without_the_global_section(sections):
    alone = value_position(sections[section_key(GRIEF)], None, PRESENCE)

    assert alone == placed(sections, PRESENCE, GRIEF)


@pytest.mark.parametrize(
    ("rank", "text"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_ranks_read_as_english_ordinals(rank, text):
    assert ValuePosition(rank=rank, ranked=200).rank_ordinal == text
