"""The aggregation core on MAI's published DFT wisdom votes (no database).

Every expectation is derived here from ``edge.json`` with plain ``json`` and
``collections.Counter``, following SPEC section 4 in words; nothing is copied
from the implementation.
"""

import json
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from moralgraph.core import Config, VoteArrays, rank_edges, summarize_edges
from moralgraph.core.edges import pair_contexts
from moralgraph.core.reliability import votes_per_edge
from moralgraph.core.report import aggregate

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "mai-dft"
pytestmark = pytest.mark.skipif(
    not (DATA / "edge.json").exists(), reason=f"MAI DFT data not found at {DATA}"
)
FIELDS = ("markedWiser", "markedNotWiser", "markedLessWise", "markedUnsure", "impressions")


@pytest.fixture(scope="module")
def edges():
    return json.loads((DATA / "edge.json").read_text())


@pytest.fixture(scope="module")
def votes(edges):
    return VoteArrays.from_columns(
        [str(e["userId"]) for e in edges],
        [e["fromId"] for e in edges],
        [e["toId"] for e in edges],
        [e["contextId"] for e in edges],
        [e["relationship"] for e in edges],
    )


def count_pairs(edges, key):
    """MAI's counting: the shown pair by answer, the reverse pair's impression and less-wise."""
    counts = defaultdict(Counter)
    for e in edges:
        shown, reverse = key(e, e["fromId"], e["toId"]), key(e, e["toId"], e["fromId"])
        counts[shown]["impressions"] += 1
        field = {
            "upgrade": "markedWiser",
            "no_upgrade": "markedNotWiser",
            "not_sure": "markedUnsure",
        }
        counts[shown][field[e["relationship"]]] += 1
        counts[reverse]["impressions"] += 1
        if e["relationship"] == "upgrade":
            counts[reverse]["markedLessWise"] += 1
    return counts


def summary(c, five_fields):
    total = c["markedWiser"] + c["markedNotWiser"] + c["markedUnsure"] + c["markedLessWise"]
    likelihood = (c["markedWiser"] - c["markedLessWise"]) / total if total else 0.0
    parts = [c[f] for f in (FIELDS if five_fields else FIELDS[:4])]
    n = sum(parts)
    entropy = -sum(k / n * math.log2(k / n) for k in parts if k) if n else 0.0
    kept = c["markedWiser"] >= 2 and likelihood >= 0.33 and entropy <= 1.69
    return likelihood, entropy, kept


def library_rows(votes, table):
    out = {}
    for i in range(len(table)):
        key = (votes.values[table.src[i]], votes.values[table.dst[i]])
        if table.context[i] >= 0:
            key = (votes.contexts[table.context[i]], *key)
        out[key] = i
    return out


def test_global_counts_and_kept_pairs_follow_mais_rules(edges, votes):
    expected = count_pairs(edges, lambda e, a, b: (a, b))
    table = summarize_edges(votes, Config.mai(), by_context=False)
    rows = library_rows(votes, table)
    assert set(rows) == set(expected)
    columns = (table.wiser, table.not_wiser, table.less_wise, table.unsure, table.impressions)
    for pair, c in expected.items():
        i = rows[pair]
        assert [int(col[i]) for col in columns] == [c[f] for f in FIELDS], pair
        likelihood, entropy, kept = summary(c, five_fields=True)
        assert table.likelihood[i] == pytest.approx(likelihood, abs=1e-12)
        assert table.entropy[i] == pytest.approx(entropy, abs=1e-12)
        assert bool(table.kept[i]) == kept, pair
    assert table.kept.sum() == sum(summary(c, True)[2] for c in expected.values())


def test_global_pairs_list_the_contexts_they_were_voted_in(edges, votes):
    expected = defaultdict(set)
    for e in edges:
        expected[(e["fromId"], e["toId"])].add(e["contextId"])
        expected[(e["toId"], e["fromId"])].add(e["contextId"])
    table = summarize_edges(votes, by_context=False)
    listed = pair_contexts(votes, table)
    for pair, i in library_rows(votes, table).items():
        assert {votes.contexts[c] for c in listed[i]} == expected[pair]


@pytest.mark.parametrize("five_fields", [False, True])
def test_per_context_kept_edges_match(edges, votes, five_fields):
    expected = count_pairs(edges, lambda e, a, b: (e["contextId"], a, b))
    config = Config.mai() if five_fields else Config()
    table = summarize_edges(votes, config)
    rows = library_rows(votes, table)
    kept = {key for key, c in expected.items() if summary(c, five_fields)[2]}
    assert {key for key, i in rows.items() if table.kept[i]} == kept
    assert kept  # the study does keep some edges


def reference_pagerank(kept_edges):
    """MAI's loop: 0.85 damping, 100 iterations, weights = wiser likelihood."""
    nodes = sorted({v for a, b, _ in kept_edges for v in (a, b)})
    rank = {v: 1 / len(nodes) for v in nodes}
    out_weight = Counter()
    for a, _, w in kept_edges:
        out_weight[a] += w
    for _ in range(100):
        new = {v: 0.15 / len(nodes) for v in nodes}
        for a, b, w in kept_edges:
            new[b] += 0.85 * rank[a] * w / out_weight[a]
        rank = new
    return rank


def test_top_value_per_context_matches_a_first_principles_pagerank(edges, votes):
    expected = count_pairs(edges, lambda e, a, b: (e["contextId"], a, b))
    by_context = defaultdict(list)
    for (ctx, a, b), c in expected.items():
        likelihood, _, kept = summary(c, five_fields=False)
        if kept:
            by_context[ctx].append((a, b, likelihood))
    scores = rank_edges(summarize_edges(votes))
    for ctx, kept_edges in by_context.items():
        reference = reference_pagerank(kept_edges)
        best = max(reference.values())
        tops = {v for v, s in reference.items() if math.isclose(s, best, rel_tol=1e-9)}
        mine = scores.context == votes.contexts.index(ctx)
        assert votes.values[scores.value[mine][0]] in tops, ctx
        ours = {
            votes.values[v]: s for v, s in zip(scores.value[mine], scores.score[mine], strict=True)
        }
        assert ours == pytest.approx(reference, rel=1e-12)
    assert {votes.contexts[c] for c in np.unique(scores.context)} == set(by_context)


def test_global_pagerank_matches_the_reference(edges, votes):
    expected = count_pairs(edges, lambda e, a, b: (a, b))
    kept_edges = []
    for (a, b), c in expected.items():
        likelihood, _, kept = summary(c, five_fields=True)
        if kept:
            kept_edges.append((a, b, likelihood))
    reference = reference_pagerank(kept_edges)
    scores = rank_edges(summarize_edges(votes, Config.mai(), by_context=False), Config.mai())
    ours = {votes.values[v]: s for v, s in zip(scores.value, scores.score, strict=True)}
    assert ours == pytest.approx(reference, rel=1e-12)
    assert sum(ours.values()) < 1  # dangling mass is not redistributed


def test_report_counts_answers_and_withholds_winners_the_data_cannot_carry(edges, votes):
    shown = Counter((e["contextId"], e["fromId"], e["toId"]) for e in edges)
    per_edge = votes_per_edge(votes)
    assert per_edge.count == len(shown)
    assert per_edge.max == max(shown.values())
    median = float(np.median(list(shown.values())))
    assert per_edge.median == median
    answers = Counter(e["relationship"] for e in edges)
    report = aggregate(votes, Config(bootstrap_samples=20, split_half_repeats=4))
    decisive = answers["upgrade"] + answers["no_upgrade"]
    assert report["counts"]["wiser_share_of_decisive"] == answers["upgrade"] / decisive
    assert report["counts"]["raters"] == len({e["userId"] for e in edges})
    if median < 5:  # the gate's threshold on votes per edge
        assert not report["reliability"]["gate"]["publishable"]
        winners = [c["winner"] for c in report["contexts"].values() if c["winner"]]
        assert winners and all(w["reasons"] for w in winners)
