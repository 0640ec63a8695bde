"""Support for edges and winners within demographic groups."""

import numpy as np
import pytest

from moralgraph.core.bridging import edge_bridging, rater_groups, winner_bridging
from moralgraph.core.edges import summarize_edges
from moralgraph.core.types import Config, VoteArrays

GROUPS = {"d1": "Dem", "d2": "Dem", "d3": "Dem", "r1": "Rep", "r2": "Rep", "r3": "Rep", "r4": "Rep"}


def votes_with(rep_answers):
    rows = [(d, "A", "B", "c", "wiser") for d in ("d1", "d2", "d3")]
    rows += [
        (r, "A", "B", "c", a) for r, a in zip(("r1", "r2", "r3", "r4"), rep_answers, strict=True)
    ]
    rows.append(("nobody", "A", "B", "c", "not_wiser"))  # no group: left out
    return VoteArrays.from_columns(*zip(*rows, strict=True))


def ab_row(votes, table):
    a, b = votes.values.index("A"), votes.values.index("B")
    return int(np.flatnonzero((table.src == a) & (table.dst == b))[0])


def test_an_edge_supported_by_every_group_is_bridged():
    votes = votes_with(["wiser", "wiser", "not_wiser", "not_wiser"])
    table = summarize_edges(votes)
    result = edge_bridging(votes, GROUPS, table, Config())
    i = ab_row(votes, table)
    assert result.groups == ("Dem", "Rep")
    # Dem: 3 of 3 decisive say wiser (1.0); Rep: 2 of 4 (0.5 >= threshold 0.5).
    assert result.favour[i].tolist() == [3, 2]
    assert result.decisive[i].tolist() == [3, 4]
    assert result.support[i].tolist() == [1.0, 0.5]
    assert result.likelihood[i].tolist() == [1.0, 0.5]
    assert result.bridged[i]


def test_an_edge_one_group_rejects_is_not_bridged():
    votes = votes_with(["wiser", "not_wiser", "not_wiser", "less_wise"])
    table = summarize_edges(votes)
    result = edge_bridging(votes, GROUPS, table, Config())
    i = ab_row(votes, table)
    assert result.support[i].tolist() == [1.0, 0.25]
    assert not result.bridged[i]


def test_unsure_answers_neither_support_nor_oppose():
    votes = votes_with(["wiser", "unsure", "unsure", "unsure"])
    table = summarize_edges(votes)
    result = edge_bridging(votes, GROUPS, table, Config())
    i = ab_row(votes, table)
    # Rep has 1 decisive vote < 3: it does not qualify, so only one group counts.
    assert result.decisive[i].tolist() == [3, 1]
    assert result.qualified[i].tolist() == [True, False]
    assert not result.bridged[i]  # bridging needs two qualified groups
    assert edge_bridging(votes, GROUPS, table, Config(bridging_min_groups=1)).bridged[i]


def test_winner_support_counts_votes_for_and_against_it():
    rows = [
        ("d1", "A", "W", "c", "wiser"),  # for W
        ("d2", "W", "B", "c", "not_wiser"),  # for W (B is not wiser than W)
        ("d3", "W", "B", "c", "wiser"),  # against W
        ("r1", "A", "W", "c", "less_wise"),  # against W
        ("r2", "A", "B", "c", "wiser"),  # does not involve W
    ]
    votes = VoteArrays.from_columns(*zip(*rows, strict=True))
    contexts, result = winner_bridging(
        votes, GROUPS, {0: votes.values.index("W")}, Config(bridging_min_votes=1)
    )
    assert contexts == [0]
    assert result.favour[0].tolist() == [2, 0]
    assert result.decisive[0].tolist() == [3, 1]
    assert result.support[0].tolist() == pytest.approx([2 / 3, 0.0])
    assert not result.bridged[0]


def test_raters_without_a_group_get_code_minus_one():
    votes = votes_with(["wiser"] * 4)
    codes, labels = rater_groups(votes, GROUPS)
    assert labels == ("Dem", "Rep")
    assert codes[votes.raters.index("nobody")] == -1
