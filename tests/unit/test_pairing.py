"""The choice of hypotheses to show a voter: needs first, never their own value as the target."""

import random
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from elicitation.pairing import Candidate, choose, draw_size, uncertainty


def pick(candidates, *, own=(), seen=(), contexts=(), count=5, seed=0) -> list[int]:
    chosen = choose(
        candidates,
        own_value_ids=own,
        seen_ids=seen,
        context_ids=contexts,
        count=count,
        rng=random.Random(seed),
    )
    return [c.id for c in chosen]


def hyp(id: int, votes: int = 0, *, to: int | None = None, context: int = 1, **counts) -> Candidate:
    return Candidate(
        id=id,
        context_id=context,
        from_value_id=1000 + id,
        to_value_id=2000 + id if to is None else to,
        votes=votes,
        **counts,
    )


def test_the_fewest_voted_come_first():
    candidates = [hyp(1, 4, wiser=2, not_wiser=2), hyp(2, 0), hyp(3, 1, wiser=1), hyp(4, 9)]

    assert pick(candidates, count=3) == [2, 3, 1]


def test_with_equal_votes_the_most_uncertain_comes_first():
    agreed = hyp(1, 4, wiser=4)
    split = hyp(2, 4, wiser=2, less_wise=2)
    unsure = hyp(3, 4, wiser=1, not_wiser=1, unsure=2)

    assert uncertainty(split) == uncertainty(unsure) > uncertainty(agreed)
    assert pick([agreed, split], count=2) == [2, 1]


def test_the_voters_own_value_is_never_the_target_but_may_be_the_start():
    mine = 77
    candidates = [hyp(1, to=mine), Candidate(2, 1, from_value_id=mine, to_value_id=5), hyp(3)]

    assert sorted(pick(candidates, own=[mine])) == [2, 3]


def test_seen_hypotheses_are_not_shown_again():
    assert pick([hyp(1), hyp(2), hyp(3)], seen=[2]) == pick([hyp(1), hyp(3)])
    assert 2 not in pick([hyp(1), hyp(2), hyp(3)], seen=[2])


def test_the_voters_own_contexts_come_first_even_with_more_votes():
    candidates = [hyp(1, 0, context=9), hyp(2, 5, context=3), hyp(3, 1, context=9)]

    assert pick(candidates, contexts=[3]) == [2, 1, 3]


def test_a_short_supply_gives_a_short_draw():
    assert sorted(pick([hyp(1), hyp(2)], count=5)) == [1, 2]
    assert pick([], count=5) == []


def test_ties_are_broken_by_the_seed():
    candidates = [hyp(n) for n in range(1, 30)]
    orders = {tuple(pick(candidates, count=10, seed=seed)) for seed in range(5)}

    assert len(orders) > 1


def test_the_draw_size_stays_between_three_and_ten():
    assert [draw_size(n) for n in (None, 0, 3, 7, 10, 50)] == [5, 3, 3, 7, 10, 10]


def test_the_module_imports_without_django():
    code = "import sys, elicitation.pairing; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


candidate_lists = st.lists(
    st.builds(
        Candidate,
        id=st.integers(1, 40),
        context_id=st.integers(1, 4),
        from_value_id=st.integers(1, 12),
        to_value_id=st.integers(1, 12),
        votes=st.integers(0, 6),
        wiser=st.integers(0, 3),
        not_wiser=st.integers(0, 3),
        less_wise=st.integers(0, 3),
        unsure=st.integers(0, 3),
    ),
    max_size=40,
)
id_sets = st.sets(st.integers(1, 40), max_size=10)
value_sets = st.sets(st.integers(1, 12), max_size=4)


@given(candidate_lists, value_sets, id_sets, st.integers(0, 12), st.integers(0, 2**32))
def test_never_own_target_never_seen_never_twice(candidates, own, seen, count, seed):
    chosen = choose(
        candidates, own_value_ids=own, seen_ids=seen, count=count, rng=random.Random(seed)
    )

    ids = [c.id for c in chosen]
    assert len(ids) == len(set(ids)) <= count
    assert not {c.to_value_id for c in chosen} & own
    assert not set(ids) & seen


@given(candidate_lists, value_sets, st.sets(st.integers(1, 4)), st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_draw_whatever_the_input_order(
    candidates, own, contexts, seed
):
    unique = list({c.id: c for c in candidates}.values())
    first = pick(unique, own=own, contexts=contexts, seed=seed)

    assert pick(unique, own=own, contexts=contexts, seed=seed) == first
    assert pick(list(reversed(unique)), own=own, contexts=contexts, seed=seed) == first


@given(candidate_lists, st.integers(0, 2**32))
def test_no_unseen_candidate_has_fewer_votes_than_a_chosen_one(candidates, seed):
    unique = list({c.id: c for c in candidates}.values())
    chosen = choose(unique, own_value_ids=(), seen_ids=(), count=5, rng=random.Random(seed))

    left = [c for c in unique if c not in chosen]
    if chosen and left:
        assert max(c.votes for c in chosen) <= min(c.votes for c in left)
