"""The command line and the deterministic report."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from moralgraph.core.__main__ import main, parse_vote
from moralgraph.core.report import aggregate, dumps
from moralgraph.core.types import Config, VoteArrays

RECORDS = [
    {"rater_id": f"r{i}", "from_value": a, "to_value": b, "context": c, "answer": ans}
    for i, (a, b, c, ans) in enumerate(
        [
            (1, 2, "home", "wiser"),
            (1, 2, "home", "wiser"),
            (1, 2, "home", "unsure"),
            (2, 3, "home", "wiser"),
            (2, 3, "home", "wiser"),
            (3, 1, "home", "not_wiser"),
            (1, 2, "work", "less_wise"),
            (2, 1, "work", "wiser"),
            (2, 1, "work", "wiser"),
        ]
    )
]
SMALL = {"bootstrap_samples": 5, "split_half_repeats": 3, "folds": 2}


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def run_cli(tmp_path, records, name, *extra):
    votes = write_jsonl(tmp_path / f"{name}.jsonl", records)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(SMALL))
    out = tmp_path / f"{name}.json"
    assert main([str(votes), "-o", str(out), "--config", str(config), *extra]) == 0
    return out.read_bytes()


def test_same_votes_in_any_order_give_byte_identical_output(tmp_path):
    shuffled = RECORDS[:]
    random.Random(4).shuffle(shuffled)
    assert run_cli(tmp_path, RECORDS, "a") == run_cli(tmp_path, shuffled, "b")


def test_output_has_rankings_edges_contested_sets_and_reliability(tmp_path):
    report = json.loads(run_cli(tmp_path, RECORDS, "a"))
    assert report["algorithm"] == "mai_pagerank"
    assert "need not sum to 1" in report["notes"]["pagerank"]
    home = report["contexts"]["home"]
    assert [entry["value"] for entry in home["ranking"]] == [3, 2, 1]
    assert home["winner"]["value"] == 3
    assert home["winner"]["reasons"]  # a nine-vote study is never publishable
    assert report["contexts"]["work"]["ranking"][0]["value"] == 1
    edge = next(
        e for e in report["global"]["edges"] if (e["sourceValueId"], e["wiserValueId"]) == (1, 2)
    )
    assert edge["counts"] == {
        "markedWiser": 2,
        "markedNotWiser": 0,
        "markedLessWise": 3,
        "markedUnsure": 1,
        "impressions": 6,
    }
    assert edge["contexts"] == ["home", "work"]
    assert set(report["reliability"]) == {
        "split_half",
        "votes_per_edge",
        "votes_per_rater",
        "heldout",
        "gate",
    }


def test_groups_add_bridging_to_edges_and_winners(tmp_path):
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps({f"r{i}": "AB"[i % 2] for i in range(9)}))
    report = json.loads(run_cli(tmp_path, RECORDS, "a", "--groups", str(groups)))
    assert set(report["contexts"]["home"]["winner"]["bridging"]["groups"]) == {"A", "B"}
    assert "bridging" in report["global"]["edges"][0]


def test_mai_field_names_are_accepted():
    vote = parse_vote(
        {"userId": 7, "fromId": 1, "toId": 2, "contextId": "When x", "relationship": "no_upgrade"}
    )
    assert (vote.rater_id, vote.answer, vote.context) == ("7", "not_wiser", "When x")


def test_a_record_without_an_answer_is_reported_with_its_line():
    with pytest.raises(ValueError, match="record 3: missing 'answer'"):
        parse_vote({"rater_id": "r", "from_value": 1, "to_value": 2, "context": "c"}, 3)


def test_floats_are_rounded_and_nan_becomes_null():
    text = dumps({"b": 1 / 3, "a": float("nan"), "c": -0.0})
    assert json.loads(text) == {"a": None, "b": 0.3333333333, "c": 0.0}
    assert text.index('"a"') < text.index('"b"')


def test_aggregate_reads_no_clock_and_reproduces_from_the_seed():
    votes = VoteArrays.from_votes(parse_vote(r) for r in RECORDS)
    config = Config(**SMALL)
    assert dumps(aggregate(votes, config)) == dumps(aggregate(votes, config))


def test_module_runs_as_a_script(tmp_path):
    votes = write_jsonl(tmp_path / "v.jsonl", RECORDS)
    result = subprocess.run(
        [sys.executable, "-m", "moralgraph.core", str(votes)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(result.stdout)["counts"]["votes"] == 9
