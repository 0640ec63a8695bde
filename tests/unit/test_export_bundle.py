"""The pure bundle writer on a hand-made aggregation result."""

import json
import random
from dataclasses import replace

import pytest

from moralgraph.export import build_bundle, rater_hash, write_bundle
from moralgraph.export.formats import read_jsonl
from moralgraph.export.schemas import FILE_SCHEMAS
from tests.export_support import (
    SALT,
    VOTES,
    real_result,
    tiny_inputs,
    tiny_result,
    validate_bundle_file,
)


@pytest.fixture
def files():
    return build_bundle(tiny_inputs(votes=VOTES), salt=SALT)


def rows(files, name):
    return read_jsonl(files[name])


def test_values_are_listed_by_numeric_id_with_prefixed_ids(files):
    values = rows(files, "values.jsonl")
    assert [v["id"] for v in values] == ["v1", "v2", "v3", "v4"]
    assert values[1] == {
        "id": "v2",
        "title": "Gentle Presence",
        "description": "Staying with grief without rushing to fix it.",
        "policies": [
            "FEELINGS of loss not yet put into words",
            "MEMORIES the person wants to share",
        ],
        "card_count": 5,
        "merged_into": None,
    }
    assert values[3]["merged_into"] == "v2"


def test_contexts_name_their_questions(files):
    contexts = rows(files, "contexts.jsonl")
    assert contexts == [
        {
            "id": "c10",
            "name": "When the user is grieving the death of someone they love",
            "question_ids": ["q5", "q6"],
        },
        {"id": "c11", "name": "When the user is unsure what is true", "question_ids": ["q6"]},
    ]


def test_edges_carry_raw_counts_in_the_contract_names(files):
    edges = rows(files, "edges.jsonl")
    assert [(e["context_id"], e["from_value_id"], e["to_value_id"]) for e in edges] == [
        ("c10", "v1", "v2"),
        ("c10", "v2", "v1"),
        ("c10", "v4", "v2"),
        ("c10", "v2", "v4"),
        ("c11", "v1", "v3"),
        ("c11", "v3", "v1"),
    ]
    first = edges[0]
    assert first["counts"] == {
        "wiser": 3,
        "not_wiser": 0,
        "less_wise": 0,
        "unsure": 0,
        "impressions": 3,
        "raters": 3,
    }
    assert (first["wiser_likelihood"], first["entropy"], first["kept"]) == (1.0, 0.0, True)
    assert first["bridging"] is None


def test_context_values_rank_the_kept_graph_first_then_the_rest_by_strength(files):
    c10 = [r for r in rows(files, "context_values.jsonl") if r["context_id"] == "c10"]
    assert [(r["value_id"], r["rank"], r["in_graph"]) for r in c10] == [
        ("v2", 1, True),
        ("v1", 2, True),
        ("v4", 3, False),
    ]
    top = c10[0]
    assert top["score"] == 0.1275 and top["score_method"] == "pagerank_mai"
    assert (top["bt_theta"], top["ci_low"], top["ci_high"], top["p_top"]) == (0.8, 0.2, 1.4, 0.9)
    assert top["winner"] is True and top["contested"] is False
    assert c10[2]["score"] == 0.0


def test_a_withheld_winner_is_not_marked_and_a_cycle_is_contested(files):
    c11 = [r for r in rows(files, "context_values.jsonl") if r["context_id"] == "c11"]
    assert [r["value_id"] for r in c11] == ["v1", "v3"]
    assert not any(r["winner"] for r in c11)
    assert all(r["contested"] for r in c11)
    assert c11[0]["ci_low"] is None  # NaN in the result becomes null


def test_graph_json_is_mai_summary_of_kept_pooled_edges(files):
    graph = json.loads(files["graph.json"])
    assert [v["id"] for v in graph["values"]] == ["v1", "v2", "v3"]
    assert {v["id"]: v["pageRank"] for v in graph["values"]} == {
        "v1": 0.0,
        "v2": 0.1275,
        "v3": 0.0783333333,
    }
    assert graph["edges"][0] == {
        "sourceValueId": "v1",
        "wiserValueId": "v2",
        "contexts": ["When the user is grieving the death of someone they love"],
        "counts": {
            "markedWiser": 3,
            "markedNotWiser": 0,
            "markedLessWise": 0,
            "markedUnsure": 0,
            "impressions": 3,
        },
        "summary": {"wiserLikelihood": 1.0, "entropy": 0.0},
    }
    assert len(graph["edges"]) == 2  # the pooled 2 -> 1 edge was not kept


def test_report_gives_each_winner_and_why(files):
    report = json.loads(files["report.json"])
    assert report["winners"]["c10"]["value"] == "v2"
    assert report["winners"]["c10"]["reasons"] == []
    assert report["winners"]["c11"]["reasons"] == ["tied with the runner-up", "in a contested set"]
    assert report["reliability"]["gate"] == {"publishable": True, "failures": []}


def test_votes_name_raters_only_by_keyed_hash(files):
    votes = rows(files, "votes.jsonl")
    assert len(votes) == 3
    assert {v["rater"] for v in votes} == {rater_hash(SALT, r) for r in ("17", "18", "19")}
    assert votes[0] | {"rater": "-"} == {
        "rater": "-",
        "hypothesis_id": "h7",
        "context_id": "c10",
        "from_value_id": "v1",
        "to_value_id": "v2",
        "answer": "wiser",
        "flags": [],
    }
    everything = b"".join(files.values())
    assert SALT.encode() not in everything


def test_rater_hash_is_hmac_sha256_keyed_by_the_salt():
    import hashlib
    import hmac

    expected = hmac.new(b"salt", b"17", hashlib.sha256).hexdigest()
    assert rater_hash("salt", "17") == expected
    assert rater_hash("other", "17") != expected


def test_votes_without_a_salt_are_refused():
    with pytest.raises(ValueError, match="salt"):
        build_bundle(tiny_inputs(votes=VOTES), salt=None)


def test_without_votes_there_is_no_votes_file():
    files = build_bundle(tiny_inputs())
    assert "votes.jsonl" not in files
    assert json.loads(files["manifest.json"])["counts"]["exported_votes"] is None


def test_every_file_matches_its_schema(files):
    checked = [name for name in files if name in FILE_SCHEMAS]
    for name in checked:
        assert validate_bundle_file(name, files[name]) >= 1
    optional = {"comparison.json"}  # only when asked for: tests/unit/test_export_comparison.py
    expected = {name for name in FILE_SCHEMAS if not name.startswith("training/")} - optional
    assert set(checked) == expected
    assert {f"schemas/{s}" for s in FILE_SCHEMAS.values()} <= set(files)


def test_a_real_aggregation_result_matches_the_schemas_too():
    files = build_bundle(tiny_inputs(result=real_result(), votes=VOTES), salt=SALT)
    for name in files:
        if name in FILE_SCHEMAS:
            validate_bundle_file(name, files[name])
    edges = rows(files, "edges.jsonl")
    assert all(e["bridging"]["groups"][0]["group"] == "left" for e in edges)


def test_the_same_inputs_in_any_order_give_the_same_bytes():
    first = build_bundle(tiny_inputs(votes=VOTES), salt=SALT)
    shuffled = tiny_inputs(votes=list(reversed(VOTES)))
    order = random.Random(4)
    shuffled = replace(
        shuffled,
        values=order.sample(list(shuffled.values), len(shuffled.values)),
        contexts=list(reversed(shuffled.contexts)),
        questions=list(reversed(shuffled.questions)),
    )
    assert build_bundle(shuffled, salt=SALT) == first


def test_a_result_naming_an_unknown_value_fails_loudly():
    result = tiny_result()
    result["contexts"][10]["edges"].append(
        result["contexts"][10]["edges"][0] | {"wiserValueId": 99}
    )
    with pytest.raises(ValueError, match="v99"):
        build_bundle(tiny_inputs(result=result))


def test_write_bundle_replaces_an_earlier_bundle_whole(tmp_path, files):
    out = write_bundle(files, tmp_path / "bundle")
    assert (out / "votes.jsonl").exists()
    write_bundle(build_bundle(tiny_inputs()), out)
    assert not (out / "votes.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_write_bundle_will_not_replace_a_folder_that_is_not_a_bundle(tmp_path, files):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no bundle"):
        write_bundle(files, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_each_exported_vote_carries_its_raters_flags():
    votes = [replace(VOTES[0], flags=("burst", "too_fast")), *VOTES[1:]]
    exported = rows(build_bundle(tiny_inputs(votes=votes), salt=SALT), "votes.jsonl")
    by_rater = {v["rater"]: v["flags"] for v in exported}
    assert by_rater[rater_hash(SALT, "17")] == ["burst", "too_fast"]
    assert by_rater[rater_hash(SALT, "18")] == []


def test_the_manifest_counts_flagged_and_excluded_raters_and_votes():
    quality = {
        "raters": {"17": {"flags": ["burst"], "votes": 1}},
        "flagged_votes": 1,
        "flagged_share": 1 / 11,
        "by_flag": {
            "burst": {"raters": 1, "votes": 1},
            "too_fast": {"raters": 0, "votes": 0},
            "same_pattern": {"raters": 0, "votes": 0},
            "constant_answer": {"raters": 0, "votes": 0},
        },
        "winners_without_flagged": {10: 2},
        "excluded": {"cohorts": [["client", "abc"]], "raters": 2, "votes": 5},
    }
    result = {**tiny_result(), "rater_quality": quality}
    files = build_bundle(tiny_inputs(result=result, votes=VOTES), salt=SALT)
    counts = json.loads(files["manifest.json"])["counts"]["rater_flags"]
    assert counts["raters"] == 1
    assert counts["votes"] == 1
    assert counts["by_flag"]["burst"] == {"raters": 1, "votes": 1}
    assert (counts["excluded_raters"], counts["excluded_votes"]) == (2, 5)
    assert b'"17"' not in files["manifest.json"]
    assert validate_bundle_file("manifest.json", files["manifest.json"]) == 1


def test_a_vote_with_an_unknown_flag_fails_the_votes_schema():
    votes = [replace(VOTES[0], flags=("made_up",))]
    files = build_bundle(tiny_inputs(votes=votes), salt=SALT)
    with pytest.raises(Exception, match="made_up"):
        validate_bundle_file("votes.jsonl", files["votes.jsonl"])
