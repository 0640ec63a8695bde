"""Properties of the edge summary and the report, checked on generated votes."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from moralgraph.core.edges import summarize_edges
from moralgraph.core.rank import rank_edges
from moralgraph.core.report import aggregate, dumps
from moralgraph.core.types import ANSWERS, Config, Vote, VoteArrays

vote = st.builds(
    lambda rater, pair, context, answer: Vote(f"r{rater}", pair[0], pair[1], context, answer),
    st.integers(0, 6),
    st.tuples(st.integers(0, 4), st.integers(0, 4)).filter(lambda p: p[0] != p[1]),
    st.sampled_from(["at home", "at work"]),
    st.sampled_from(ANSWERS),
)
vote_lists = st.lists(vote, min_size=1, max_size=40)
SMALL = Config(bootstrap_samples=3, split_half_repeats=2, folds=2)


def table_of(votes, **kwargs):
    table = summarize_edges(VoteArrays.from_votes(votes), **kwargs)
    return {
        name: getattr(table, name).tolist()
        for name in ("context", "src", "dst", "wiser", "less_wise", "likelihood", "entropy", "kept")
    }


def likelihood_of(votes, target):
    arrays = VoteArrays.from_votes(votes)
    table = summarize_edges(arrays, by_context=False)
    src, dst = arrays.values.index(target.from_value), arrays.values.index(target.to_value)
    return table.likelihood[(table.src == src) & (table.dst == dst)][0]


@settings(max_examples=60, deadline=None)
@given(vote_lists, st.randoms(use_true_random=False))
def test_permuting_the_votes_changes_nothing(votes, random):
    shuffled = list(votes)
    random.shuffle(shuffled)
    assert table_of(votes) == table_of(shuffled)
    assert table_of(votes, by_context=False) == table_of(shuffled, by_context=False)


@settings(max_examples=15, deadline=None)
@given(vote_lists, st.randoms(use_true_random=False))
def test_permuting_the_votes_gives_byte_identical_reports(votes, random):
    shuffled = list(votes)
    random.shuffle(shuffled)
    first = dumps(aggregate(VoteArrays.from_votes(votes), SMALL))
    assert first == dumps(aggregate(VoteArrays.from_votes(shuffled), SMALL))


@settings(max_examples=60, deadline=None)
@given(vote_lists, st.data())
def test_a_wiser_vote_never_lowers_its_pairs_likelihood(votes, data):
    target = data.draw(st.sampled_from(votes))
    extra = Vote("new", target.from_value, target.to_value, target.context, "wiser")
    assert likelihood_of(votes + [extra], target) >= likelihood_of(votes, target)


@settings(max_examples=60, deadline=None)
@given(vote_lists, st.data())
def test_an_unsure_vote_never_raises_a_non_negative_likelihood(votes, data):
    # (w - l) / (T + 1) vs (w - l) / T: an unsure vote shrinks the likelihood toward
    # zero.  A negative likelihood therefore rises (toward 0), never past it.
    target = data.draw(st.sampled_from(votes))
    extra = Vote("new", target.from_value, target.to_value, target.context, "unsure")
    before, after = likelihood_of(votes, target), likelihood_of(votes + [extra], target)
    assert abs(after) <= abs(before)
    assert np.sign(after) in (0, np.sign(before))
    if before >= 0:
        assert after <= before


@settings(max_examples=30, deadline=None)
@given(vote_lists)
def test_scores_are_deterministic(votes):
    arrays = VoteArrays.from_votes(votes)
    first = rank_edges(summarize_edges(arrays))
    second = rank_edges(summarize_edges(arrays))
    assert first.score.tobytes() == second.score.tobytes()
    assert first.value.tolist() == second.value.tolist()
