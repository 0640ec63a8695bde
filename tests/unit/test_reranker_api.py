"""The values reranker end to end on a tiny bundle, with the real model (loaded once)."""

import json

import pytest

from moralgraph.reranker.api import Reranker, RerankInputError, get_reranker, rerank
from moralgraph.reranker.config import RerankerConfig
from tests.reranker_support import (
    BUDGET_PROMPT,
    GRAPH_VERSION,
    GRIEF_PROMPT,
    MOVE_ON,
    OFF_TOPIC,
    PRESENT,
    UNRELATED_PROMPT,
    tiny_reranker,
)


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    return tiny_reranker(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="module")
def tiny_bundle(reranker):
    return reranker.bundle


@pytest.fixture(scope="module")
def chunk_encoder(reranker):
    return reranker.encoder


def test_retrieval_picks_the_context_the_prompt_is_in(reranker):
    grief = reranker.rerank(GRIEF_PROMPT, [PRESENT])
    budget = reranker.rerank(BUDGET_PROMPT, [PRESENT])

    assert [c["id"] for c in grief.contexts] == ["c1"]
    assert [c["id"] for c in budget.contexts] == ["c2"]
    assert grief.contexts[0]["similarity"] >= RerankerConfig().abstain_below
    assert not grief.abstained


def test_an_unrelated_prompt_abstains_with_zero_scores(reranker):
    result = reranker.rerank(UNRELATED_PROMPT, [PRESENT, OFF_TOPIC])

    assert result.abstained
    assert result.contexts == []
    assert result.scores == [0.0, 0.0]
    assert result.to_dict()["abstained"] is True


def test_a_conversation_is_placed_by_its_last_user_turn(reranker):
    conversation = [
        {"role": "user", "content": BUDGET_PROMPT},
        {"role": "assistant", "content": "Let's look at your spending together."},
        {"role": "user", "content": GRIEF_PROMPT},
    ]

    assert [c["id"] for c in reranker.rerank(conversation, [PRESENT]).contexts] == ["c1"]


def test_a_candidate_that_enacts_the_values_outscores_one_that_does_not(reranker):
    scores = reranker.rerank(GRIEF_PROMPT, [OFF_TOPIC, PRESENT]).scores

    assert scores[1] > scores[0] + 0.05


def test_the_supersession_term_lowers_a_candidate_that_matches_the_superseded_value(
    tiny_bundle, chunk_encoder
):
    with_term = Reranker(tiny_bundle, RerankerConfig(), chunk_encoder)
    without = Reranker(tiny_bundle, RerankerConfig(contrastive_lambda=0.0), chunk_encoder)

    [present, move_on] = with_term.rerank(GRIEF_PROMPT, [PRESENT, MOVE_ON]).scores
    [present_0, move_on_0] = without.rerank(GRIEF_PROMPT, [PRESENT, MOVE_ON]).scores

    assert move_on < move_on_0
    assert (move_on_0 - move_on) > (present_0 - present)
    assert present - move_on > present_0 - move_on_0


def test_the_breakdown_lists_every_value_and_policy_with_its_role(reranker, tiny_bundle):
    result = reranker.rerank(GRIEF_PROMPT, [PRESENT, MOVE_ON])

    for candidate in result.breakdown:
        [context] = candidate["contexts"]
        roles = {value["id"]: value["role"] for value in context["values"]}
        assert roles == {"v1": "top", "v2": "top", "v3": "superseded"}
        for value in context["values"]:
            policies = [p["policy"] for p in value["policies"]]
            assert policies == list(tiny_bundle.values[value["id"]].policies)
    superseded = result.breakdown[1]["contexts"][0]["values"][2]
    assert superseded["weight"] == -RerankerConfig().contrastive_lambda
    start, end = superseded["policies"][0]["best_chunk"]
    assert "dwell on the past" in MOVE_ON[start:end]


def test_scores_are_the_weighted_sum_of_the_value_scores(reranker):
    result = reranker.rerank(GRIEF_PROMPT, [PRESENT])
    [context] = result.breakdown[0]["contexts"]

    total = sum(value["weight"] * value["score"] for value in context["values"])

    assert result.scores[0] == pytest.approx(total, abs=1e-5)


def test_scoring_is_deterministic_and_json_serialisable(tiny_bundle, chunk_encoder, reranker):
    once = reranker.rerank(GRIEF_PROMPT, [PRESENT, OFF_TOPIC, MOVE_ON]).to_dict()
    again = Reranker(tiny_bundle, encoder=chunk_encoder).rerank(
        GRIEF_PROMPT, [PRESENT, OFF_TOPIC, MOVE_ON]
    )

    assert json.loads(json.dumps(once)) == again.to_dict()
    assert once["graph_version"] == GRAPH_VERSION
    assert once["scorer_version"] == RerankerConfig().version


def test_scoring_many_items_at_once_gives_the_same_scores_as_one_by_one(reranker):
    items = [(GRIEF_PROMPT, [PRESENT, MOVE_ON]), (UNRELATED_PROMPT, [PRESENT]), (BUDGET_PROMPT, [])]

    together = reranker.rerank_many(items)

    assert [r.scores for r in together] == [reranker.rerank(p, c).scores for p, c in items]
    assert [r.abstained for r in together] == [False, True, False]


def test_named_contexts_skip_retrieval(reranker):
    result = reranker.rerank(UNRELATED_PROMPT, [PRESENT], contexts=["c1"])

    assert not result.abstained
    assert [c["id"] for c in result.contexts] == ["c1"]
    with pytest.raises(RerankInputError, match="unknown context ids: c9"):
        reranker.rerank(GRIEF_PROMPT, [PRESENT], contexts=["c9"])


def test_unreadable_input_raises_a_clear_error(reranker):
    with pytest.raises(RerankInputError, match="candidates"):
        reranker.rerank(GRIEF_PROMPT, [PRESENT, 3])
    with pytest.raises(RerankInputError, match="message 0 needs a string 'content'"):
        reranker.rerank([{"role": "user"}], [PRESENT])


def test_the_module_function_builds_one_reranker_per_bundle_and_config(tiny_bundle):
    result = rerank(GRIEF_PROMPT, [PRESENT, OFF_TOPIC], tiny_bundle)

    assert result.scores[0] > result.scores[1]
    assert get_reranker(tiny_bundle) is get_reranker(tiny_bundle, RerankerConfig())


def test_window_chunking_ranks_the_same_way(tiny_bundle, chunk_encoder):
    windowed = Reranker(tiny_bundle, RerankerConfig(chunking="windows"), chunk_encoder)

    scores = windowed.rerank(GRIEF_PROMPT, [OFF_TOPIC, PRESENT]).scores

    assert scores[1] > scores[0]
