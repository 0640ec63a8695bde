"""Training rows: best against worst of N, in TRL, OpenAI DPO and prompt-only shapes."""

import pytest
from jsonschema import Draft202012Validator

from moralgraph.export.schemas import load_schema
from moralgraph.export.training import (
    GUIDANCE_SCORER_VERSION,
    NAIVE,
    VALUE_GUIDED,
    Candidate,
    PromptItem,
    Versions,
    best_and_worst,
    guidance_scores,
    training_rows,
    with_scores,
)

VERSIONS = Versions(graph_version="ab" * 32, scorer_version="mg-values-reranker/1+0123abcd")
PROMPT = "My father died last week and I can't stop crying."


def item(*scores, texts=None):
    texts = texts or [f"answer {i}" for i in range(len(scores))]
    sources = [VALUE_GUIDED if i % 2 == 0 else NAIVE for i in range(len(scores))]
    candidates = tuple(
        Candidate(text, source, score, "fake-model")
        for text, source, score in zip(texts, sources, scores, strict=True)
    )
    return PromptItem("p1", PROMPT, "c10", ("v2", "v1"), candidates)


def test_best_and_worst_take_the_extremes():
    chosen, rejected = best_and_worst(item(0.2, 0.9, 0.1, 0.5).candidates)
    assert (chosen.text, rejected.text) == ("answer 1", "answer 2")


def test_ties_and_single_candidates_make_no_pair():
    assert best_and_worst(item(0.5, 0.5, 0.5).candidates) is None
    assert best_and_worst(item(0.5).candidates) is None
    assert best_and_worst(item(0.5, 0.6).candidates, min_margin=0.2) is None


def test_empty_or_unscored_answers_are_left_out():
    candidates = item(0.9, 0.1, 0.5, texts=["  ", "low", "mid"]).candidates
    assert [c.text for c in best_and_worst(candidates)] == ["mid", "low"]
    unscored = item(None, 0.3, 0.2).candidates  # type: ignore[arg-type]
    assert [c.text for c in best_and_worst(unscored)] == ["answer 1", "answer 2"]


def test_trl_rows_are_conversational_with_provenance():
    rows = training_rows([item(0.2, 0.9, 0.1)], VERSIONS)
    assert rows["trl"] == [
        {
            "prompt": [{"role": "user", "content": PROMPT}],
            "chosen": [{"role": "assistant", "content": "answer 1"}],
            "rejected": [{"role": "assistant", "content": "answer 2"}],
            "prompt_id": "p1",
            "context_id": "c10",
            "value_ids": ["v2", "v1"],
            "chosen_score": 0.9,
            "rejected_score": 0.1,
            "chosen_source": NAIVE,
            "rejected_source": VALUE_GUIDED,
            "graph_version": VERSIONS.graph_version,
            "scorer_version": VERSIONS.scorer_version,
        }
    ]


def test_openai_dpo_rows_use_input_messages_and_preferred_outputs():
    (row,) = training_rows([item(0.2, 0.9, 0.1)], VERSIONS)["openai_dpo"]
    assert row["input"] == {"messages": [{"role": "user", "content": PROMPT}]}
    assert row["preferred_output"] == [{"role": "assistant", "content": "answer 1"}]
    assert row["non_preferred_output"] == [{"role": "assistant", "content": "answer 2"}]
    assert row["metadata"]["graph_version"] == VERSIONS.graph_version
    assert row["metadata"]["scorer_version"] == VERSIONS.scorer_version
    assert (row["metadata"]["preferred_score"], row["metadata"]["non_preferred_score"]) == (
        0.9,
        0.1,
    )


def test_every_prompt_gets_a_prompt_only_row_even_without_a_pair():
    abstained = PromptItem("p2", "What is tungsten's melting point?", None)
    rows = training_rows([item(0.5, 0.5), abstained], VERSIONS)
    assert rows["trl"] == [] and rows["openai_dpo"] == []
    assert rows["prompts"][1] == {
        "prompt": [{"role": "user", "content": "What is tungsten's melting point?"}],
        "prompt_id": "p2",
        "context_id": None,
        "value_ids": [],
        **VERSIONS.as_dict(),
    }
    assert [r["index"] for r in rows["candidates"]] == [0, 1]


def test_guidance_scores_pair_guided_answers_against_naive_ones():
    unscored = item(None, None, None, None)
    scored = with_scores(unscored, guidance_scores(unscored.candidates))
    chosen, rejected = best_and_worst(scored.candidates)
    assert (chosen.source, rejected.source) == (VALUE_GUIDED, NAIVE)
    assert (chosen.text, rejected.text) == ("answer 0", "answer 3")
    assert GUIDANCE_SCORER_VERSION


def test_with_scores_needs_one_score_per_candidate():
    with pytest.raises(ValueError, match="2 scores for 3 candidates"):
        with_scores(item(None, None, None), [1.0, 0.0])


@pytest.mark.parametrize(
    ("key", "schema"),
    [
        ("trl", "training_preference_trl.schema.json"),
        ("openai_dpo", "training_openai_dpo.schema.json"),
        ("prompts", "training_prompts.schema.json"),
        ("candidates", "training_candidates.schema.json"),
    ],
)
def test_rows_match_their_schemas(key, schema):
    rows = training_rows([item(0.2, 0.9, 0.1), PromptItem("p2", "Hi", None)], VERSIONS)
    assert rows[key]
    validator = Draft202012Validator(load_schema(schema))
    for row in rows[key]:
        validator.validate(row)
