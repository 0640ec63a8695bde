"""Edge counts and MAI's summary statistics on hand-worked examples."""

import math

import numpy as np
import pytest

from moralgraph.core.edges import (
    GLOBAL,
    entropy_bits,
    pair_contexts,
    summarize_edges,
    wiser_likelihood,
)
from moralgraph.core.types import Config, Vote, VoteArrays


def make_votes(*rows):
    return VoteArrays.from_votes(Vote(*row) for row in rows)


def row(table, votes, src, dst, context=GLOBAL):
    code = lambda v: votes.values.index(v)  # noqa: E731
    hits = np.flatnonzero(
        (table.src == code(src)) & (table.dst == code(dst)) & (table.context == context)
    )
    assert len(hits) == 1, f"no single row for {src}->{dst} in context {context}"
    i = hits[0]
    fields = ("wiser", "not_wiser", "less_wise", "unsure", "impressions", "raters")
    return {name: int(getattr(table, name)[i]) for name in fields} | {
        "likelihood": float(table.likelihood[i]),
        "entropy": float(table.entropy[i]),
        "kept": bool(table.kept[i]),
    }


# Four votes on A -> B and one upgrade vote on B -> A, all in one context.
MIXED = [
    ("r1", "A", "B", "c", "wiser"),
    ("r2", "A", "B", "c", "wiser"),
    ("r3", "A", "B", "c", "not_wiser"),
    ("r4", "A", "B", "c", "unsure"),
    ("r5", "B", "A", "c", "wiser"),
]


def test_an_upgrade_counts_wiser_on_its_pair_and_less_wise_on_the_reverse():
    votes = make_votes(*MIXED)
    table = summarize_edges(votes, by_context=False)
    ab = row(table, votes, "A", "B")
    # (A, B): 2 wiser, 1 not wiser, 1 unsure from the A->B votes, 1 less wise from
    # r5's upgrade B->A; every one of the 5 votes is an impression of the pair.
    assert {k: ab[k] for k in ("wiser", "not_wiser", "less_wise", "unsure", "impressions")} == {
        "wiser": 2,
        "not_wiser": 1,
        "less_wise": 1,
        "unsure": 1,
        "impressions": 5,
    }
    ba = row(table, votes, "B", "A")
    # (B, A): r5's upgrade is wiser there; r1 and r2's upgrades are less wise.
    assert (ba["wiser"], ba["less_wise"], ba["not_wiser"], ba["unsure"]) == (1, 2, 0, 0)
    assert ba["impressions"] == 5
    assert ab["raters"] == ba["raters"] == 5


def test_likelihood_and_entropy_of_the_mixed_pair():
    votes = make_votes(*MIXED)
    four = row(summarize_edges(votes, by_context=False), votes, "A", "B")
    # total = 2 + 1 + 1 + 1 = 5, likelihood = (2 - 1) / 5 = 0.2
    assert four["likelihood"] == pytest.approx(0.2)
    # four fields (2, 1, 1, 1)/5: -(0.4 log2 0.4 + 3 * 0.2 log2 0.2) = 1.921928
    assert four["entropy"] == pytest.approx(1.921928, abs=1e-6)
    five = row(summarize_edges(votes, Config.mai(), by_context=False), votes, "A", "B")
    # five fields (2, 1, 1, 1, 5)/10: 0.2*2.321928 + 3 * 0.1*3.321928 + 0.5*1 = 1.960964
    assert five["entropy"] == pytest.approx(1.960964, abs=1e-6)
    assert not four["kept"] and not five["kept"]
    # (B, A): (1 - 2) / 3
    assert row(summarize_edges(votes, by_context=False), votes, "B", "A")[
        "likelihood"
    ] == pytest.approx(-1 / 3)


def test_the_five_field_entropy_rejects_what_the_four_field_one_keeps():
    votes = make_votes(
        ("r1", "A", "B", "c", "wiser"),
        ("r2", "A", "B", "c", "wiser"),
        ("r3", "A", "B", "c", "not_wiser"),
        ("r4", "A", "B", "c", "unsure"),
    )
    four = row(summarize_edges(votes), votes, "A", "B", 0)
    five = row(summarize_edges(votes, Config.mai()), votes, "A", "B", 0)
    # likelihood 2/4 = 0.5 in both; entropy of (2,1,0,1)/4 = 1.5 bits <= 1.69: kept;
    # of (2,1,0,1,4)/8 = 0.5 + 0.375 + 0.375 + 0.5 = 1.75 bits > 1.69: rejected.
    assert four["likelihood"] == five["likelihood"] == 0.5
    assert four["entropy"] == pytest.approx(1.5)
    assert five["entropy"] == pytest.approx(1.75)
    assert four["kept"] and not five["kept"]


def test_keep_rule_needs_enough_wiser_votes():
    one = make_votes(("r1", "A", "B", "c", "wiser"))
    assert not row(summarize_edges(one), one, "A", "B", 0)["kept"]  # 1 < min_wiser 2
    assert row(summarize_edges(one, Config(min_wiser=1)), one, "A", "B", 0)["kept"]
    # MAI drops pairs with no wiser vote whatever the threshold says.
    none = make_votes(("r1", "A", "B", "c", "unsure"))
    assert not row(
        summarize_edges(none, Config(min_wiser=0, min_likelihood=-1)), none, "A", "B", 0
    )["kept"]


def test_a_less_wise_answer_mirrors_an_upgrade():
    votes = make_votes(("r1", "A", "B", "c", "less_wise"), ("r2", "B", "A", "c", "wiser"))
    table = summarize_edges(votes)
    ba = row(table, votes, "B", "A", 0)
    ab = row(table, votes, "A", "B", 0)
    # "B is less wise than A" on A->B supports B->A exactly like r2's upgrade.
    assert (ba["wiser"], ba["less_wise"]) == (2, 0)
    assert (ab["wiser"], ab["less_wise"]) == (0, 2)


def test_contexts_are_counted_separately_and_pooled_globally():
    votes = make_votes(
        ("r1", "A", "B", "home", "wiser"),
        ("r2", "A", "B", "work", "wiser"),
        ("r3", "A", "B", "work", "wiser"),
    )
    per_context = summarize_edges(votes)
    assert row(per_context, votes, "A", "B", 0)["wiser"] == 1
    assert row(per_context, votes, "A", "B", 1)["wiser"] == 2
    pooled = summarize_edges(votes, by_context=False)
    assert row(pooled, votes, "A", "B")["wiser"] == 3
    assert pair_contexts(votes, pooled) == [(0, 1), (0, 1)]


def test_rows_are_sorted_by_context_source_and_target():
    votes = make_votes(
        ("r1", 3, 1, "b", "wiser"), ("r1", 2, 1, "a", "wiser"), ("r2", 1, 3, "a", "unsure")
    )
    table = summarize_edges(votes)
    keys = list(zip(table.context.tolist(), table.src.tolist(), table.dst.tolist(), strict=True))
    assert keys == sorted(keys)
    assert len(keys) == 6  # two unordered pairs in context a, one in b, both directions


def test_distinct_raters_count_each_rater_once():
    votes = make_votes(("r1", "A", "B", "c", "wiser"), ("r1", "B", "A", "c", "unsure"))
    assert row(summarize_edges(votes), votes, "A", "B", 0)["raters"] == 1


def test_wiser_likelihood_is_zero_without_answers():
    assert wiser_likelihood(np.array([0, 3]), np.array([0, 1]), np.array([0, 4])).tolist() == [
        0.0,
        0.5,
    ]


def test_entropy_bits_matches_the_definition():
    counts = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4]])
    p = np.array([1, 2, 3, 4]) / 10
    assert entropy_bits(counts).tolist() == pytest.approx([1.0, 0.0, -sum(p * np.log2(p))])
    assert math.isclose(entropy_bits(np.array([[7, 0, 0, 0]]))[0], 0.0)
