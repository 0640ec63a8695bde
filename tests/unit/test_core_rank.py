"""PageRank variants and Bradley-Terry."""

import networkx as nx
import numpy as np
import pytest

from moralgraph.core.edges import summarize_edges
from moralgraph.core.rank import (
    MAI_ALGORITHM,
    NETWORKX_ALGORITHM,
    bradley_terry,
    bt_bootstrap,
    bt_data,
    bt_predict,
    fit_bt,
    pagerank_mai,
    pagerank_networkx,
    rank_edges,
    top_share,
)
from moralgraph.core.types import Config, VoteArrays


def reference_mai_pagerank(edges, damping=0.85, iterations=100):
    """MAI's loop as described: every edge rescans all edges for its source's out-weight."""
    nodes = []
    for source, target, _ in edges:
        for node in (source, target):
            if node not in nodes:
                nodes.append(node)
    rank = {node: 1 / len(nodes) for node in nodes}
    for _ in range(iterations):
        new = {node: (1 - damping) / len(nodes) for node in nodes}
        for source, target, weight in edges:
            total = sum(w for s, _, w in edges if s == source)
            if total > 0:
                new[target] += damping * rank[source] * weight / total
        rank = new
    return rank


def random_edges(rng, n_nodes, n_edges):
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n_nodes, (n_edges, 2)) if a != b}
    return [(a, b, float(rng.uniform(0.33, 1))) for a, b in sorted(pairs)]


def test_two_node_mai_pagerank_by_hand():
    # A -> B.  A has no in-edges: x_A = 0.15 / 2 = 0.075 from the first iteration on;
    # x_B = 0.075 + 0.85 * 0.075 = 0.13875.  Dangling mass is lost: the sum is 0.21375.
    x = pagerank_mai(np.array([0]), np.array([1]), np.array([0.7]), 2)
    assert x.tolist() == pytest.approx([0.075, 0.13875])
    assert x.sum() == pytest.approx(0.21375)


def test_fast_mai_pagerank_equals_the_quadratic_reference():
    rng = np.random.default_rng(7)
    edges = random_edges(rng, 40, 150)
    reference = reference_mai_pagerank(edges)
    src, dst, weight = (np.array(col) for col in zip(*edges, strict=True))
    nodes = sorted(reference)
    index = {node: i for i, node in enumerate(nodes)}
    fast = pagerank_mai(
        np.array([index[s] for s in src]), np.array([index[d] for d in dst]), weight, len(nodes)
    )
    assert fast.tolist() == pytest.approx([reference[n] for n in nodes], rel=1e-12, abs=0)


def test_two_node_networkx_pagerank_by_hand_and_against_networkx():
    # Dangling B spreads its mass: x_A = 0.075 + 0.425 x_B, x_A + x_B = 1
    # => x_A = 0.5 / 1.425 = 0.350877, x_B = 0.649123.
    x = pagerank_networkx(np.array([0]), np.array([1]), np.array([0.7]), 2)
    assert x.tolist() == pytest.approx([0.5 / 1.425, 1 - 0.5 / 1.425])
    rng = np.random.default_rng(3)
    edges = random_edges(rng, 30, 80)
    graph = nx.DiGraph()
    graph.add_weighted_edges_from(edges)
    expected = nx.pagerank(graph, alpha=0.85, tol=1e-12, max_iter=1000)
    nodes = sorted(graph)
    index = {node: i for i, node in enumerate(nodes)}
    src, dst, weight = (np.array(col) for col in zip(*edges, strict=True))
    ours = pagerank_networkx(
        np.array([index[s] for s in src]), np.array([index[d] for d in dst]), weight, len(nodes)
    )
    assert ours.tolist() == pytest.approx([expected[n] for n in nodes], abs=1e-9)


@pytest.mark.parametrize("run", [pagerank_mai, pagerank_networkx])
def test_blocks_rank_like_separate_graphs(run):
    # Nodes 0-2 form one graph, 3-4 another; block sizes set the teleport.
    src, dst, weight = np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([0.5, 1.0, 0.4])
    together = run(src, dst, weight, 5, block=np.array([0, 0, 0, 1, 1]))
    first = run(src[:2], dst[:2], weight[:2], 3)
    second = run(np.array([0]), np.array([1]), weight[2:], 2)
    assert together.tolist() == pytest.approx(np.concatenate([first, second]).tolist())


def chain_votes():
    # Context c: 3 raters say B wiser than A, 3 say C wiser than B; context d: D -> E.
    rows = [(f"r{i}", "A", "B", "c", "wiser") for i in range(3)]
    rows += [(f"s{i}", "B", "C", "c", "wiser") for i in range(3)]
    rows += [(f"t{i}", "D", "E", "d", "wiser") for i in range(2)]
    return VoteArrays.from_columns(*zip(*rows, strict=True))


def test_rank_edges_ranks_each_context_and_records_the_algorithm():
    votes = chain_votes()
    scores = rank_edges(summarize_edges(votes), Config())
    assert scores.algorithm == MAI_ALGORITHM
    labels = [
        (votes.contexts[c], votes.values[v])
        for c, v in zip(scores.context, scores.value, strict=True)
    ]
    assert labels == [("c", "C"), ("c", "B"), ("c", "A"), ("d", "E"), ("d", "D")]
    # Context d by hand (two nodes): E = 0.13875, D = 0.075.
    assert scores.score[3:].tolist() == pytest.approx([0.13875, 0.075])
    networkx = rank_edges(summarize_edges(votes), Config(pagerank="networkx"))
    assert networkx.algorithm == NETWORKX_ALGORITHM
    assert networkx.score[3:].sum() == pytest.approx(1.0)


def independent_loss(params, data, l2, alpha_l2):
    theta, alpha = params[: len(data.node_value)], params[len(data.node_value) :]
    z = theta[data.b] - theta[data.a] + alpha[data.alpha]
    p = 1 / (1 + np.exp(-z))
    nll = -np.sum(data.y * np.log(p) + (1 - data.y) * np.log(1 - p))
    return nll + l2 / 2 * theta @ theta + alpha_l2 / 2 * alpha @ alpha


def mixed_votes(seed=0, n=300):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, n)
    b = (a + rng.integers(1, 6, n)) % 6
    wisdom = np.linspace(-1, 1, 6)
    answer = np.where(rng.random(n) < 1 / (1 + np.exp(-(wisdom[b] - wisdom[a] + 1))), 0, 1)
    context = rng.integers(0, 2, n)
    return VoteArrays.from_columns(rng.integers(0, 60, n), a, b, context, answer)


def test_bradley_terry_minimises_the_penalised_likelihood():
    votes = mixed_votes()
    data, fit = bradley_terry(votes, Config(bt_l2=0.1, bt_alpha_l2=0.01))
    assert fit.converged
    x = np.concatenate([fit.theta, fit.alpha])
    # Recentring per context keeps the likelihood; the ridge optimum is centred anyway.
    for c in np.unique(fit.node_context):
        assert fit.theta[fit.node_context == c].sum() == pytest.approx(0, abs=1e-8)
    h = 1e-5
    for i in range(len(x)):
        step = np.zeros(len(x))
        step[i] = h
        up = independent_loss(x + step, data, 0.1, 0.01)
        down = independent_loss(x - step, data, 0.1, 0.01)
        slope = (up - down) / (2 * h)
        assert slope == pytest.approx(0, abs=1e-5)


def test_bradley_terry_recovers_the_order_of_latent_wisdom():
    votes = mixed_votes(n=3000)
    _, fit = bradley_terry(votes)
    for c in (0, 1):
        mine = fit.node_context == c
        order = np.array(votes.values)[fit.node_value[mine][np.argsort(-fit.theta[mine])]]
        assert order.tolist() == [5, 4, 3, 2, 1, 0]


def test_acquiescence_is_separated_when_pairs_are_shown_both_ways():
    # A->B: 45 of 50 say wiser; B->A: 25 of 50.  logit(0.9) = t_B - t_A + alpha and
    # logit(0.5) = t_A - t_B + alpha  =>  alpha = t_B - t_A = ln(9) / 2 = 1.0986.
    rows = [(f"a{i}", "A", "B", "c", "wiser" if i < 45 else "not_wiser") for i in range(50)]
    rows += [(f"b{i}", "B", "A", "c", "wiser" if i < 25 else "not_wiser") for i in range(50)]
    votes = VoteArrays.from_columns(*zip(*rows, strict=True))
    _, fit = bradley_terry(votes, Config(bt_l2=1e-8, bt_alpha_l2=1e-8))
    assert fit.alpha[0] == pytest.approx(np.log(9) / 2, abs=1e-4)
    assert fit.theta[1] - fit.theta[0] == pytest.approx(np.log(9) / 2, abs=1e-4)


def test_one_way_agreement_goes_to_acquiescence_not_to_the_values():
    # Only A->B is ever shown and everyone agrees: the data cannot tell acquiescence
    # from wisdom, and the weaker alpha penalty lets alpha carry most of it.
    rows = [(f"r{i}", "A", "B", "c", "wiser" if i < 18 else "not_wiser") for i in range(20)]
    votes = VoteArrays.from_columns(*zip(*rows, strict=True))
    _, fit = bradley_terry(votes)
    gap = fit.theta[1] - fit.theta[0]
    assert 0 < gap < fit.alpha[0]


def test_bootstrap_is_reproducible_from_the_seed_and_brackets_the_fit():
    votes = mixed_votes(n=600)
    data, fit = bradley_terry(votes)
    first = bt_bootstrap(data, fit, samples=30, rng=np.random.default_rng(1))
    second = bt_bootstrap(data, fit, samples=30, rng=np.random.default_rng(1))
    assert np.array_equal(first.lo, second.lo) and np.array_equal(first.prob_top, second.prob_top)
    assert np.all(first.lo <= first.hi)
    assert np.mean((first.lo <= fit.theta) & (fit.theta <= first.hi)) > 0.8
    for c in np.unique(fit.node_context):
        assert first.prob_top[fit.node_context == c].sum() == pytest.approx(1.0)


def test_top_share_splits_ties():
    share = top_share(np.array([0, 0, 0, 1]), np.array([1.0, 1.0, 0.5, -2.0]))
    assert share.tolist() == [0.5, 0.5, 0.0, 1.0]


def test_prediction_uses_theta_and_alpha_and_is_neutral_for_unseen_values():
    votes = mixed_votes(n=400)
    data, fit = bradley_terry(votes)
    p = bt_predict(fit, votes)
    z = np.log(p / (1 - p))
    i = 0
    a = np.flatnonzero((fit.node_context == votes.context[i]) & (fit.node_value == votes.src[i]))
    b = np.flatnonzero((fit.node_context == votes.context[i]) & (fit.node_value == votes.dst[i]))
    assert z[i] == pytest.approx(fit.theta[b[0]] - fit.theta[a[0]] + fit.alpha[0])
    unseen = VoteArrays(
        np.array([0]),
        np.array([0]),
        np.array([1]),
        np.array([5]),
        np.array([0], dtype=np.int8),
        votes.raters,
        votes.values,
        (*votes.contexts, "x", "y", "z", "w"),
    )
    assert bt_predict(fit, unseen)[0] == pytest.approx(1 / (1 + np.exp(-fit.alpha[0])))


def test_unsure_votes_are_left_out_of_bradley_terry():
    votes = VoteArrays.from_columns(["r1", "r2"], ["A", "A"], ["B", "B"], ["c", "c"], [0, 3])
    data = bt_data(votes)
    assert data.y.tolist() == [1.0]


def test_fit_is_warm_startable_and_idempotent():
    votes = mixed_votes()
    data, fit = bradley_terry(votes)
    again = fit_bt(data, init=fit)
    assert again.theta == pytest.approx(fit.theta, abs=1e-9)
