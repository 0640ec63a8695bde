"""The linearised rater bootstrap against the reference: 200 full refits (`bt_bootstrap`)."""

import numpy as np
import pytest

from moralgraph.core.intervals import bt_intervals
from moralgraph.core.rank import bt_bootstrap, bt_data, fit_bt
from moralgraph.core.types import NOT_WISER, WISER, VoteArrays


def latent_study(*, values=40, contexts=3, raters=400, per_rater=6, seed=7):
    """Votes drawn from known per-context wisdom scores (and an agree tendency of 0.8)."""
    rng = np.random.default_rng(seed)
    wisdom = rng.normal(scale=1.2, size=(contexts, values))
    n = raters * per_rater
    context = rng.integers(0, contexts, n)
    a = rng.integers(0, values, n)
    b = (a + rng.integers(1, values, n)) % values
    z = wisdom[context, b] - wisdom[context, a] + 0.8
    answer = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), WISER, NOT_WISER)
    rater = np.repeat(np.arange(raters), per_rater)
    votes = VoteArrays.from_columns(rater, a, b, context, answer.astype(np.int8))
    return votes, wisdom


def true_scores(fit, votes, wisdom):
    """Each node's latent score, centred per context like the fitted abilities."""
    values = np.asarray(votes.values)[fit.node_value]
    contexts = np.asarray(votes.contexts)[fit.node_context]
    true = wisdom[contexts, values]
    _, block = np.unique(fit.node_context, return_inverse=True)
    return true - (np.bincount(block, true) / np.bincount(block))[block]


def coverage(intervals, true):
    return float(np.mean((intervals.lo <= true) & (true <= intervals.hi)))


def both_paths(votes, wisdom, **options):
    data = bt_data(votes)
    fit = fit_bt(data)
    reference = bt_bootstrap(data, fit, samples=200, rng=np.random.default_rng(0))
    fast = bt_intervals(data, fit, samples=200, rng=np.random.default_rng(0), **options)
    return fit, reference, fast, true_scores(fit, votes, wisdom)


@pytest.fixture(scope="module")
def small_contexts():
    """Contexts of 40 values with about 30 votes each: refitted exactly per sample."""
    return both_paths(*latent_study())


@pytest.fixture(scope="module")
def one_step_only():
    """Contexts of 60 values with about 100 votes each, kept to the one-step solution."""
    return both_paths(*latent_study(values=60, contexts=2, raters=1000), exact_limit=0)


@pytest.mark.parametrize("paths", ["small_contexts", "one_step_only"])
def test_intervals_cover_the_true_scores_as_often_as_the_refit_bootstrap(paths, request):
    _fit, reference, fast, true = request.getfixturevalue(paths)
    assert coverage(reference, true) > 0.85
    assert abs(coverage(fast, true) - coverage(reference, true)) <= 0.02


@pytest.mark.parametrize("paths", ["small_contexts", "one_step_only"])
def test_p_top_agrees_with_the_refit_bootstrap_within_five_points(paths, request):
    _fit, reference, fast, _true = request.getfixturevalue(paths)
    assert np.abs(fast.prob_top - reference.prob_top).max() <= 0.05
    assert fast.prob_top.max() > 0.3  # some value is a real contender, so the check bites


def test_intervals_bracket_the_fit_and_sum_p_top_to_one_per_context(small_contexts):
    fit, _reference, fast, _true = small_contexts
    assert np.all(fast.lo <= fit.theta + 1e-9) and np.all(fit.theta - 1e-9 <= fast.hi)
    totals = np.bincount(fit.node_context, weights=fast.prob_top)
    assert np.allclose(totals, 1.0)


def test_the_same_seed_gives_the_same_intervals():
    votes, _ = latent_study(values=10, contexts=2, raters=60)
    data = bt_data(votes)
    fit = fit_bt(data)
    first = bt_intervals(data, fit, samples=30, rng=np.random.default_rng(4))
    second = bt_intervals(data, fit, samples=30, rng=np.random.default_rng(4))
    assert np.array_equal(first.lo, second.lo) and np.array_equal(first.prob_top, second.prob_top)


def test_a_value_whose_only_rater_is_left_out_falls_back_towards_the_prior():
    """The refit puts a value with no votes at its context's centre; so must the fast path."""
    votes, _ = latent_study(values=8, contexts=1, raters=80)
    lone = VoteArrays.from_columns(
        np.r_[votes.rater, 999],
        np.r_[votes.src, 0],
        np.r_[votes.dst, 99],
        np.r_[votes.context, 0],
        np.r_[votes.answer, WISER].astype(np.int8),
    )
    data = bt_data(lone)
    fit = fit_bt(data)
    reference = bt_bootstrap(data, fit, samples=200, rng=np.random.default_rng(2))
    fast = bt_intervals(data, fit, samples=200, rng=np.random.default_rng(2))
    node = int(np.flatnonzero(np.asarray(lone.values)[fit.node_value] == 99)[0])
    assert fast.lo[node] == pytest.approx(reference.lo[node], abs=0.15)
    assert fast.hi[node] == pytest.approx(reference.hi[node], abs=0.15)


def test_no_samples_gives_no_intervals():
    votes, _ = latent_study(values=5, contexts=1, raters=20)
    data = bt_data(votes)
    empty = bt_intervals(data, fit_bt(data), samples=0, rng=np.random.default_rng(0))
    assert empty.samples == 0 and np.isnan(empty.lo).all() and np.isnan(empty.prob_top).all()


def test_aggregate_runs_blas_on_one_thread(monkeypatch):
    """OpenBLAS threads spinning for cores the web process holds made builds crawl."""
    from threadpoolctl import threadpool_info

    from moralgraph.core import report
    from moralgraph.core.types import Config

    seen = []

    def spy(*args, **kwargs):
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return bt_intervals(*args, **kwargs)

    monkeypatch.setattr(report, "bt_intervals", spy)
    votes, _ = latent_study(values=6, contexts=1, raters=30)
    report.aggregate(votes, Config(bootstrap_samples=3, split_half_repeats=2, folds=2))
    assert seen and set(seen) == {1}


def test_the_exact_refit_gives_the_same_intervals_padded_in_one_call_or_block_by_block(
    monkeypatch,
):
    from moralgraph.core import intervals
    from moralgraph.core.rank import bradley_terry
    from moralgraph.core.types import Config, VoteArrays

    rng = np.random.default_rng(0)
    a = rng.integers(0, 30, 3000)
    b = (a + rng.integers(1, 30, 3000)) % 30
    answer = rng.choice([0, 1, 2, 3], 3000, p=[0.5, 0.2, 0.1, 0.2])
    votes = VoteArrays.from_columns(
        rng.integers(0, 300, 3000), a, b, rng.integers(0, 4, 3000), answer
    )
    data, fit = bradley_terry(votes, Config())

    def run():
        return intervals.bt_intervals(data, fit, samples=50, rng=np.random.default_rng(1))

    padded = run()
    monkeypatch.setattr(intervals, "PADDED_BYTES", 0)
    by_block = run()

    np.testing.assert_allclose(padded.lo, by_block.lo, atol=1e-6)
    np.testing.assert_allclose(padded.hi, by_block.hi, atol=1e-6)
    np.testing.assert_allclose(padded.prob_top, by_block.prob_top, atol=1e-9)


@pytest.mark.parametrize("beside_from", [0, 10**9])
@pytest.mark.parametrize("samples", [0, 7])
def test_reliability_beside_the_intervals_draws_what_it_would_draw_after_them(
    samples, beside_from, monkeypatch
):
    """The build runs the reliability report beside the intervals, from a copy of the
    generator moved past the intervals' draws: the report must be the one made after them."""
    from moralgraph.core import report
    from moralgraph.core.rank import bradley_terry
    from moralgraph.core.reliability import GateThresholds, reliability_report
    from moralgraph.core.types import Config

    monkeypatch.setattr(report, "BESIDE_MIN_VOTES", beside_from)
    votes, _ = latent_study(values=8, contexts=2, raters=60)
    config = Config(bootstrap_samples=samples, split_half_repeats=3, folds=3)
    rng = np.random.default_rng(config.seed)
    data, fit = bradley_terry(votes, config)
    bt_intervals(data, fit, samples=samples, rng=rng)
    after = reliability_report(votes, config, rng=rng, thresholds=GateThresholds(), full_fit=fit)

    built = report.aggregate(votes, config, thresholds=GateThresholds())
    assert report.clean(built["reliability"]) == report.clean(after.to_dict())
