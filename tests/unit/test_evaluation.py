"""The report card's aggregation, on hand-made scored records (no model, no LLM, no DB)."""

import json

import pytest

from moralgraph.evaluation import (
    ABSTAINED,
    ANSWERED,
    FAILED,
    METHOD,
    SUPERSEDED,
    TOP,
    WINNER,
    AnswerRecord,
    ValueScore,
    percentile_ranks,
    report_json,
    report_table,
    summarise,
)

GRIEF = "When the user is grieving the death of someone they love"
BUDGET = "When the user wants help with a budget or saving money"


def grief(prompt_id, score, presence, steps, moving_on):
    values = (
        ValueScore("v1", "Gentle Presence", WINNER, presence),
        ValueScore("v2", "Practical Next Steps", TOP, steps),
        ValueScore("v3", "Moving On Quickly", SUPERSEDED, moving_on),
    )
    return AnswerRecord(prompt_id, ANSWERED, "c1", GRIEF, score=score, values=values, answer="...")


def budget(prompt_id, score):
    values = (ValueScore("v4", "Financial Clarity", WINNER, 0.5),)
    return AnswerRecord(
        prompt_id, ANSWERED, "c2", BUDGET, winner_published=False, score=score, values=values
    )


RECORDS = [
    grief("g1", 0.3, presence=0.4, steps=0.2, moving_on=0.1),
    grief("g2", 0.1, presence=0.2, steps=0.1, moving_on=0.0),
    grief("g3", -0.1, presence=0.2, steps=0.1, moving_on=0.4),
    AnswerRecord("g4", FAILED, "c1", GRIEF, error="llm_rejected"),
    budget("b1", 0.2),
    AnswerRecord("far", ABSTAINED),
]


@pytest.fixture
def summary():
    return summarise(RECORDS)


def contexts(summary):
    return {row["context_id"]: row for row in summary["contexts"]}


def test_totals_count_answered_failed_and_abstained_prompts(summary):
    assert summary["totals"] == {"prompts": 6, "answered": 4, "failed": 1, "abstained": 1}


def test_a_context_counts_its_prompts_and_means_over_the_answered_ones(summary):
    row = contexts(summary)["c1"]
    assert (row["prompts"], row["answered"], row["failed"], row["abstained"]) == (4, 3, 1, 0)
    assert row["mean_score"] == pytest.approx(0.1)
    assert row["name"] == GRIEF and row["winner_published"] is True


def test_per_value_means_list_the_winner_first_then_top_then_superseded(summary):
    values = contexts(summary)["c1"]["values"]
    assert [(v["id"], v["role"]) for v in values] == [
        ("v1", WINNER),
        ("v2", TOP),
        ("v3", SUPERSEDED),
    ]
    assert [v["mean_score"] for v in values] == [
        0.266667,
        0.133333,
        0.166667,
    ]  # rounded to 6 places
    assert values[0]["title"] == "Gentle Presence"


def test_winner_share_counts_answers_whose_best_value_is_the_winner(summary):
    shares = contexts(summary)["c1"]["best_value_share"]
    assert shares == pytest.approx({"winner": 2 / 3, "superseded": 1 / 3, "other_top": 0.0})


def test_a_tie_between_winner_and_another_value_goes_to_the_winner():
    (row,) = summarise([grief("g", 0.0, presence=0.2, steps=0.2, moving_on=0.2)])["contexts"]
    assert row["best_value_share"]["winner"] == 1.0


def test_percentiles_are_mid_ranks_within_the_run():
    assert percentile_ranks([1.0, 2.0, 2.0, 3.0]) == [12.5, 50.0, 50.0, 87.5]
    assert percentile_ranks([5.0]) == [50.0]
    assert percentile_ranks([]) == []


def test_a_context_reports_its_answers_mean_percentile(summary):
    # Scores in the run: -0.1, 0.1, 0.2, 0.3 -> percentiles 12.5, 37.5, 62.5, 87.5.
    by_id = contexts(summary)
    assert by_id["c1"]["mean_percentile"] == pytest.approx((87.5 + 37.5 + 12.5) / 3)
    assert by_id["c2"]["mean_percentile"] == 62.5
    prompts = {row["prompt_id"]: row for row in summary["prompts"]}
    assert prompts["g1"]["percentile"] == 87.5 and prompts["g4"]["percentile"] is None


def test_contexts_are_ordered_by_prompts_and_say_whether_the_winner_is_published(summary):
    assert [row["context_id"] for row in summary["contexts"]] == ["c1", "c2"]
    assert contexts(summary)["c2"]["winner_published"] is False


def test_prompt_rows_keep_the_given_order_with_their_outcome(summary):
    rows = summary["prompts"]
    assert [row["prompt_id"] for row in rows] == ["g1", "g2", "g3", "g4", "b1", "far"]
    assert rows[2]["best_value_id"] == "v3" and rows[2]["best_value_role"] == SUPERSEDED
    assert rows[3]["status"] == FAILED and rows[3]["error"] == "llm_rejected"
    assert rows[5] == {
        "prompt_id": "far",
        "status": ABSTAINED,
        "context_id": None,
        "score": None,
        "percentile": None,
        "best_value_id": None,
        "best_value_role": None,
        "answer": "",
        "error": "",
    }


def test_the_run_score_distribution_interpolates_quantiles(summary):
    assert summary["scores"] == pytest.approx(
        {"min": -0.1, "p25": 0.05, "median": 0.15, "p75": 0.225, "max": 0.3, "mean": 0.125}
    )


def test_a_run_with_nothing_answered_reports_no_means():
    summary = summarise([AnswerRecord("g", FAILED, "c1", GRIEF), AnswerRecord("x", ABSTAINED)])
    (row,) = summary["contexts"]
    assert row["mean_score"] is None and row["mean_percentile"] is None
    assert row["best_value_share"] == {"winner": None, "superseded": None, "other_top": None}
    assert set(summary["scores"].values()) == {None}


def test_a_prompt_in_a_context_with_no_ranked_values_abstains_there():
    unranked = AnswerRecord("u", ABSTAINED, "c9", "When nothing is ranked")
    summary = summarise([unranked, grief("g", 0.3, presence=0.4, steps=0.2, moving_on=0.1)])
    assert (summary["totals"]["answered"], summary["totals"]["abstained"]) == (1, 1)
    row = contexts(summary)["c9"]
    assert (row["prompts"], row["answered"], row["abstained"]) == (1, 0, 1)
    assert (row["mean_score"], row["values"]) == (None, [])
    assert contexts(summary)["c1"]["mean_percentile"] == 50.0
    lines = report_table(report(summary)).splitlines()
    assert any(line.endswith("(no ranked values)") for line in lines)


def report(summary):
    head = {"model": "m", "graph_version": "ab12", "scorer_version": "s/1", "method": METHOD}
    return {**head, **summary}


def test_the_json_report_has_sorted_keys_and_is_the_same_each_time(summary):
    text = report_json(report(summary))
    assert text == report_json(report(summarise(RECORDS)))
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "percentile" in json.loads(text)["method"]["relative"]


def test_the_table_has_a_line_per_context_and_the_totals(summary):
    lines = report_table(report(summary)).splitlines()
    (grief_line,) = [line for line in lines if line.startswith("When the user is grieving")]
    assert grief_line[44:].split() == [
        *("4", "1", "0", "0.100", "46", "67%", "33%"),
        *("Gentle", "Presence"),
    ]
    assert any(line.endswith("Financial Clarity (unpublished)") for line in lines)
    assert lines[-1] == (
        "prompts 6: 4 answered, 1 failed, 1 abstained (no context, or no ranked values); "
        "mean score 0.125"
    )
