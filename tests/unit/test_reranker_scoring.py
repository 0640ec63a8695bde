"""The scoring maths on hand-made vectors: pooling, echo discount, weights."""

import numpy as np
import pytest

from moralgraph.reranker.config import RerankerConfig
from moralgraph.reranker.scoring import echo_factors, pool_chunks, pool_policies, value_weights

CONFIG = RerankerConfig()


def test_pooling_at_temperature_zero_is_the_max_over_each_candidates_chunks():
    similarities = np.array([[0.1, 0.9], [0.5, 0.2], [0.3, 0.3]])
    bounds = np.array([0, 2, 3])

    pooled = pool_chunks(similarities, bounds, temperature=0.0)

    assert pooled.scores.tolist() == [[0.5, 0.9], [0.3, 0.3]]
    assert pooled.best_chunk.tolist() == [[1, 0], [2, 2]]


def test_soft_pooling_lies_between_the_mean_and_the_max():
    similarities = np.array([[0.1], [0.5]])

    pooled = pool_chunks(similarities, np.array([0, 2]), temperature=0.1).scores[0, 0]

    assert 0.3 < pooled < 0.5
    assert pool_chunks(similarities, np.array([0, 2]), 100.0).scores[0, 0] == pytest.approx(
        0.3, abs=1e-3
    )


def test_a_chunk_that_repeats_a_policy_is_discounted_and_one_in_its_own_words_is_not():
    policy = "MOMENTS when I embody my deepest values amidst life's challenges"
    chunks = [
        "MOMENTS when I embody my deepest values amidst life's challenges.",
        "When life gets hard, you still live by what matters most to you.",
    ]

    factors = echo_factors(chunks, [policy], CONFIG)

    assert factors[:, 0].tolist() == [0.0, 1.0]


def test_partial_quotes_are_discounted_in_proportion():
    policy = "one two three four five six seven eight nine"  # 8 word pairs
    chunk = "one two three four five six and more"  # 5 of them

    [[factor]] = echo_factors([chunk], [policy], CONFIG)

    assert factor == pytest.approx(1 - (5 / 8 - 0.5) / 0.5)


def test_value_weights_follow_ranking_scores_and_fall_back_to_uniform():
    assert value_weights([0.6, 0.2, 0.2]).tolist() == pytest.approx([0.6, 0.2, 0.2])
    assert value_weights([0.0, 0.0]).tolist() == [0.5, 0.5]
    assert value_weights([-1.0, 3.0]).tolist() == [0.0, 1.0]


def test_policy_pooling_is_a_mean_or_leans_to_the_best_policy():
    scores = np.array([[0.1, 0.5]])

    assert pool_policies(scores, CONFIG)[0] == pytest.approx(0.3)
    soft = pool_policies(scores, CONFIG.replace(policy_pooling="softmax"))[0]
    assert 0.45 < soft < 0.5


def test_pooling_matches_a_candidate_by_candidate_computation():
    rng = np.random.default_rng(0)
    similarities = rng.uniform(-1, 1, (12, 5))
    bounds = np.array([0, 1, 5, 6, 12])

    pooled = pool_chunks(similarities, bounds, temperature=0.2)

    for c in range(4):
        block = similarities[bounds[c] : bounds[c + 1]]
        expected = 0.2 * np.log(np.exp(block / 0.2).mean(axis=0))
        assert pooled.scores[c] == pytest.approx(expected)
        assert (pooled.best_chunk[c] == bounds[c] + block.argmax(axis=0)).all()
