"""Bradley-Terry one context at a time (acquiescence per context): the same optimum as the
joint fit, intervals as good as each context's refit bootstrap, and a context's numbers
depending on its own votes only, so that a later build can keep them."""

from dataclasses import replace

import numpy as np
import pytest

from moralgraph.core import Config
from moralgraph.core.by_context import context_rng, fit_contexts, intervals_by_context
from moralgraph.core.rank import bradley_terry, bt_bootstrap
from moralgraph.core.report import aggregate, dumps
from moralgraph.core.types import VoteArrays
from tests.unit.test_core_intervals import coverage, latent_study, true_scores

PER_CONTEXT = Config(bt_alpha="per_context", split_half_repeats=4)


@pytest.fixture(scope="module")
def study():
    """Raters named by text, as a study's participants are (their codes follow that order)."""
    votes, wisdom = latent_study(values=30, contexts=3, raters=300)
    return replace(votes, raters=tuple(f"p{rater:04d}" for rater in votes.raters)), wisdom


def test_fitting_each_context_alone_finds_the_joint_optimum(study):
    votes, _ = study
    _, joint = bradley_terry(votes, PER_CONTEXT)

    alone = fit_contexts(votes, PER_CONTEXT).joined

    assert np.array_equal(alone.node_context, joint.node_context)
    assert np.array_equal(alone.node_value, joint.node_value)
    assert np.allclose(alone.theta, joint.theta, atol=1e-7)
    assert np.allclose(alone.alpha, joint.alpha, atol=1e-7) and len(alone.alpha) == 3


def test_each_contexts_intervals_match_its_refit_bootstrap(study):
    votes, wisdom = study
    fitted = fit_contexts(votes, PER_CONTEXT)
    fast, bootstrapped, kept = intervals_by_context(fitted, votes, PER_CONTEXT)
    reference = [
        bt_bootstrap(data, fit, samples=200, rng=context_rng(0, label))
        for label, data, fit in zip(fitted.labels, fitted.data, fitted.fits, strict=True)
    ]
    slow_top = np.concatenate([r.prob_top for r in reference])
    slow = replace(fast, lo=np.concatenate([r.lo for r in reference]))
    slow = replace(slow, hi=np.concatenate([r.hi for r in reference]))
    true = true_scores(fitted.joined, votes, wisdom)

    assert (bootstrapped, kept) == (["0", "1", "2"], [])
    assert coverage(slow, true) > 0.85
    assert abs(coverage(fast, true) - coverage(slow, true)) <= 0.02
    assert np.abs(fast.prob_top - slow_top).max() <= 0.05 and fast.prob_top.max() > 0.3


def with_votes_in_context_2(votes: VoteArrays) -> VoteArrays:
    """Votes from a new rater on a new value, only in context 2."""
    extra = 12
    return VoteArrays.from_columns(
        [*np.asarray(votes.raters)[votes.rater], *["newcomer"] * extra],
        [*np.asarray(votes.values)[votes.src], *[999] * extra],
        [*np.asarray(votes.values)[votes.dst], *np.arange(extra).tolist()],
        [*np.asarray(votes.contexts)[votes.context], *[2] * extra],
        [*votes.answer.tolist(), *[0] * extra],
    )


def test_a_contexts_numbers_do_not_move_when_another_context_gets_votes(study):
    votes, _ = study
    before = aggregate(votes, PER_CONTEXT)["contexts"]

    after = aggregate(with_votes_in_context_2(votes), PER_CONTEXT)["contexts"]

    for label in (0, 1):
        assert dumps(after[label]["bradley_terry"]) == dumps(before[label]["bradley_terry"])
    assert dumps(after[2]["bradley_terry"]) != dumps(before[2]["bradley_terry"])


def test_kept_intervals_are_used_only_for_exactly_the_contexts_values(study):
    votes, _ = study
    fitted = fit_contexts(votes, PER_CONTEXT)
    full, _, _ = intervals_by_context(fitted, votes, PER_CONTEXT)
    nodes = np.flatnonzero(fitted.joined.node_context == 0)
    rows = {
        votes.values[fitted.joined.node_value[i]]: (full.lo[i], full.hi[i], full.prob_top[i])
        for i in nodes
    }
    short = dict(list(rows.items())[1:])

    again, bootstrapped, kept = intervals_by_context(fitted, votes, PER_CONTEXT, {"0": rows})
    _, redone, none_kept = intervals_by_context(fitted, votes, PER_CONTEXT, {"0": short})

    assert (bootstrapped, kept) == (["1", "2"], ["0"])
    assert np.array_equal(again.lo, full.lo) and np.array_equal(again.prob_top, full.prob_top)
    assert (redone, none_kept) == (["0", "1", "2"], [])
