"""NetworkX views, contested sets and rankings."""

import networkx as nx
import numpy as np
import pytest

from moralgraph.core.edges import summarize_edges
from moralgraph.core.graph import (
    build_graph,
    build_graphs,
    contested_sets,
    contested_sets_nx,
    rankings,
)
from moralgraph.core.rank import rank_edges
from moralgraph.core.types import Config, VoteArrays


def cycle_votes():
    # Context c: A -> B -> C -> A, two upgrades each (a contested set), plus C -> D.
    # Context d: X -> Y only.
    rows = []
    for i, (a, b) in enumerate([("A", "B"), ("B", "C"), ("C", "A"), ("C", "D")]):
        rows += [(f"r{i}{k}", a, b, "c", "wiser") for k in range(2)]
    rows += [("s1", "X", "Y", "d", "wiser"), ("s2", "X", "Y", "d", "wiser")]
    return VoteArrays.from_columns(*zip(*rows, strict=True))


def test_graph_has_kept_edges_with_counts_and_scored_nodes():
    votes = cycle_votes()
    table = summarize_edges(votes)
    scores = rank_edges(table)
    graph = build_graph(table, votes, context=0, scores=scores)
    assert graph.graph["context"] == "c"
    assert sorted(graph.edges) == [("A", "B"), ("B", "C"), ("C", "A"), ("C", "D")]
    assert graph["A"]["B"]["wiser"] == 2
    assert graph.nodes["D"]["algorithm"] == scores.algorithm


def test_impressions_count_votes_on_either_direction_only():
    votes = cycle_votes()
    graph = build_graph(summarize_edges(votes), votes, context=0)
    # (A, B) is touched by the two A->B votes only; (C, A) by the two C->A votes.
    assert graph["A"]["B"]["impressions"] == 2
    assert graph["C"]["A"]["less_wise"] == 0


def test_contested_sets_are_the_cycles_of_each_context():
    votes = cycle_votes()
    sets = contested_sets(summarize_edges(votes))
    a, b, c = (votes.values.index(v) for v in "ABC")
    assert sets == {0: [[a, b, c]]}


def test_scipy_and_networkx_find_the_same_contested_sets():
    rng = np.random.default_rng(5)
    n = 400
    src = rng.integers(0, 25, n)
    dst = (src + rng.integers(1, 25, n)) % 25
    votes = VoteArrays.from_columns(
        rng.integers(0, 80, n), src, dst, rng.integers(0, 3, n), np.zeros(n, dtype=int)
    )
    table = summarize_edges(votes, Config(min_wiser=1))
    fast = contested_sets(table)
    for code, graph in enumerate(build_graphs(table, table, votes).values()):
        if graph.graph["context"] is None:
            continue
        expected = contested_sets_nx(graph)
        assert [[votes.values[v] for v in s] for s in fast.get(code - 1, [])] == expected


def test_build_graphs_has_one_graph_per_context_and_a_global_one():
    votes = cycle_votes()
    graphs = build_graphs(summarize_edges(votes), summarize_edges(votes, by_context=False), votes)
    assert list(graphs) == [None, "c", "d"]
    assert isinstance(graphs[None], nx.DiGraph)
    assert graphs[None].number_of_edges() == 5


def test_rankings_list_each_context_best_first():
    votes = cycle_votes()
    ranked = rankings(rank_edges(summarize_edges(votes)), votes)
    assert [label for label, _ in ranked["d"]] == ["Y", "X"]
    assert [score for _, score in ranked["d"]] == pytest.approx([0.13875, 0.075])
    scores = dict(ranked["c"])
    assert [score for _, score in ranked["c"]] == sorted(scores.values(), reverse=True)
    # C splits its mass evenly (both likelihoods are 1) between A and D:
    # x_D = 0.15 / 4 + 0.85 * x_C / 2.
    assert scores["D"] == pytest.approx(0.0375 + 0.425 * scores["C"])
