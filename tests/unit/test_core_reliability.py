"""Split-half agreement, vote distributions, held-out prediction, the gate."""

import numpy as np
import pytest

from moralgraph.core.reliability import (
    Distribution,
    GateThresholds,
    Heldout,
    SplitHalf,
    _kappa,
    distribution,
    gate,
    heldout_prediction,
    reliability_report,
    split_half,
    votes_per_edge,
)
from moralgraph.core.types import Config, VoteArrays


def consistent_study(seed=0, n=4000, noise=0.0):
    """Raters agree on a fixed order of 8 values, up to ``noise`` random answers."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 8, n)
    b = (a + rng.integers(1, 8, n)) % 8
    answer = np.where(b > a, 0, 1)
    flip = rng.random(n) < noise
    answer[flip] = rng.integers(0, 2, flip.sum())
    return VoteArrays.from_columns(rng.integers(0, 400, n), a, b, np.zeros(n, dtype=int), answer)


def test_kappa_by_hand():
    # p_o = 3/4; k_A = 1/2, k_B = 1/4; p_e = 1/8 + 3/8 = 1/2; kappa = (3/4 - 1/2) / (1/2) = 1/2
    assert _kappa(np.array([1, 1, 0, 0], bool), np.array([1, 0, 0, 0], bool)) == 0.5


def test_split_half_agrees_on_a_consistent_study():
    result = split_half(consistent_study(), Config(), repeats=5, rng=np.random.default_rng(0))
    assert result.kappa_mean == pytest.approx(1.0)
    assert result.correlation_mean > 0.99
    assert result.kept_jaccard_mean == pytest.approx(1.0)


def test_split_half_drops_when_answers_are_noise():
    noisy = split_half(
        consistent_study(noise=1.0), Config(), repeats=5, rng=np.random.default_rng(0)
    )
    assert noisy.correlation_mean < 0.5


def test_votes_per_edge_counts_each_shown_direction():
    votes = VoteArrays.from_columns(
        ["r1", "r2", "r3", "r4"], ["A", "A", "B", "A"], ["B", "B", "A", "C"], ["c"] * 4, [0] * 4
    )
    assert votes_per_edge(votes) == Distribution(3, 1.0, 1.0, 4 / 3, 1.8, 2.0)


def test_heldout_bradley_terry_beats_the_base_rate_when_there_is_signal():
    result = heldout_prediction(
        consistent_study(noise=0.1), Config(), folds=5, rng=np.random.default_rng(0)
    )
    assert result.votes == 4000
    assert result.bt_log_loss < result.base_log_loss
    assert result.bt_accuracy > 0.9 > result.base_accuracy


def test_gate_lists_every_failed_threshold():
    split = SplitHalf(5, 0.2, 0.0, 0.5, 0.1, 0.0, 0.3, 10)
    per_edge = distribution(np.array([1, 2, 3]))
    held = Heldout(5, 100, 0.8, 0.5, 0.85, 0.45)
    result = gate(split, per_edge, held, GateThresholds())
    assert not result.publishable
    assert result.failures == (
        "split-half kappa 0.100 < 0.4",
        "split-half likelihood correlation 0.200 < 0.5",
        "median votes per edge 2.0 < 5.0",
        "held-out log-loss: Bradley-Terry 0.5000 does not beat base rate 0.4500",
    )
    assert result.checks == (  # the same checks without figures: a winner's reasons
        "split-half kappa < 0.4",
        "split-half likelihood correlation < 0.5",
        "median votes per edge < 5.0",
        "held-out log-loss: Bradley-Terry does not beat the base rate",
    )


def test_nan_figures_fail_the_gate():
    nan = float("nan")
    result = gate(
        SplitHalf(0, nan, nan, nan, nan, nan, nan, nan),
        distribution(np.array([])),
        Heldout(5, 0, nan, nan, nan, nan),
    )
    assert len(result.failures) == 4


def test_a_consistent_well_sampled_study_is_publishable_and_reproducible():
    votes = consistent_study(noise=0.05)
    config = Config(split_half_repeats=4, folds=3)
    first = reliability_report(votes, config)
    assert first.gate.publishable, first.gate.failures
    assert first.to_dict() == reliability_report(votes, config).to_dict()


def mixed_study(seed=3, n=3000):
    """Several contexts, every answer kind, pairs shown both ways."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 12, n)
    b = (a + rng.integers(1, 12, n)) % 12
    answer = rng.choice([0, 1, 2, 3], n, p=[0.5, 0.2, 0.1, 0.2])
    return VoteArrays.from_columns(rng.integers(0, 150, n), a, b, rng.integers(0, 3, n), answer)


def test_each_half_is_read_as_summarize_edges_would_read_that_half_alone():
    from moralgraph.core.edges import summarize_edges
    from moralgraph.core.reliability import _half_view, _ShownRows

    votes, config = mixed_study(), Config()
    rows = _ShownRows.of(votes)
    mask = np.random.default_rng(1).random(votes.n_votes) < 0.5
    answered, likelihood, kept = _half_view(votes, rows, mask, config)

    table = summarize_edges(votes.take(mask), config)
    by_key = {
        (c, s, d): (w + nw + lw + u > 0, lik, k)
        for c, s, d, w, nw, lw, u, lik, k in zip(
            table.context,
            table.src,
            table.dst,
            table.wiser,
            table.not_wiser,
            table.less_wise,
            table.unsure,
            table.likelihood,
            table.kept,
            strict=True,
        )
    }
    first_vote = {row: i for i, row in reversed(list(enumerate(rows.forward.tolist())))}
    shown = [
        (votes.context[v], votes.src[v], votes.dst[v])
        for v in (first_vote[row] for row in rows.shown.tolist())
    ]
    assert len(set(shown)) == len(set(zip(votes.context, votes.src, votes.dst, strict=True)))
    for i, key in enumerate(shown):
        expected = by_key.get(key, (False, np.nan, False))
        assert (answered[i], kept[i]) == (expected[0], expected[2])
        if expected[0]:
            assert likelihood[i] == expected[1]


def test_heldout_folds_started_from_the_full_fit_predict_as_folds_fitted_from_zero():
    from moralgraph.core.rank import bradley_terry

    votes, config = mixed_study(), Config()
    _, full = bradley_terry(votes, config)
    cold = heldout_prediction(votes, config, folds=5, rng=np.random.default_rng(0))
    warm = heldout_prediction(votes, config, folds=5, rng=np.random.default_rng(0), full_fit=full)

    assert warm.votes == cold.votes and warm.bt_accuracy == cold.bt_accuracy
    assert warm.bt_log_loss == pytest.approx(cold.bt_log_loss, abs=1e-7)


@pytest.mark.parametrize("alpha", ["shared", "per_context"])
def test_the_report_made_on_threads_is_the_report_made_one_step_after_another(alpha):
    votes = mixed_study()
    config = Config(split_half_repeats=5, folds=4, bt_alpha=alpha)
    one = reliability_report(votes, config, rng=np.random.default_rng(11))

    threaded = reliability_report(votes, config, rng=np.random.default_rng(11), workers=2)

    assert threaded.to_dict() == one.to_dict()
    other_seed = reliability_report(votes, config, rng=np.random.default_rng(12), workers=2)
    assert other_seed.to_dict() != one.to_dict()  # the draws matter, so the check bites
