"""Reading an exported bundle: plain dataclasses, supersession from kept edges, loud errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from moralgraph.reranker.bundle import BundleError, anchor_text, load_bundle
from moralgraph.reranker.config import RerankerConfig
from tests.reranker_support import GRAPH_VERSION, write_bundle


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    return load_bundle(write_bundle(tmp_path_factory.mktemp("bundle")))


def test_a_bundle_loads_into_values_contexts_rankings_and_edges(tiny_bundle):
    assert set(tiny_bundle.values) == {"v1", "v2", "v3", "v4"}
    assert tiny_bundle.values["v1"].policies[0].startswith("FEELINGS of loss")
    assert [row.value_id for row in tiny_bundle.top_values("c1", 2)] == ["v1", "v2"]
    assert tiny_bundle.graph_version == GRAPH_VERSION
    assert tiny_bundle.manifest["counts"] == {"values": 4}  # extra manifest keys are kept


def test_the_winner_supersedes_only_values_with_a_kept_edge_into_it(tiny_bundle):
    assert tiny_bundle.winner("c1").value_id == "v1"
    assert tiny_bundle.superseded("c1") == ["v3"]
    assert tiny_bundle.superseded("c2") == []


def test_without_a_published_winner_the_first_ranked_value_stands_in(tmp_path):
    root = write_bundle(tmp_path)
    rows = [json.loads(line) for line in (root / "context_values.jsonl").read_text().splitlines()]
    (root / "context_values.jsonl").write_text(
        "".join(json.dumps({**row, "winner": False}) + "\n" for row in rows)
    )

    assert load_bundle(root).superseded("c1") == ["v3"]


def test_a_malformed_line_is_reported_with_its_file_and_line(tmp_path):
    root = write_bundle(tmp_path)
    with (root / "values.jsonl").open("a") as values:
        values.write('{"title": "no id", "policies": []}\n')

    with pytest.raises(BundleError, match=r"values.jsonl:5: missing 'id'"):
        load_bundle(root)


def test_a_ranking_that_names_an_unknown_value_is_refused(tmp_path):
    root = write_bundle(tmp_path)
    with (root / "context_values.jsonl").open("a") as rows:
        rows.write(json.dumps({"context_id": "c1", "value_id": "v99", "rank": 9}) + "\n")

    with pytest.raises(BundleError, match="unknown value v99"):
        load_bundle(root)


def test_a_missing_directory_or_file_is_refused(tmp_path):
    with pytest.raises(BundleError, match="not a bundle directory"):
        load_bundle(tmp_path / "absent")
    root = write_bundle(tmp_path / "b")
    (root / "contexts.jsonl").unlink()
    with pytest.raises(BundleError, match="contexts.jsonl: missing"):
        load_bundle(root)


def test_anchor_words_are_the_all_caps_words_of_three_letters_or_more():
    assert anchor_text("MOMENTS when I embody my deepest values") == "MOMENTS"
    assert anchor_text("SIGNS of fear and AI hype, and SELF-DOUBT") == "SIGNS SELF-DOUBT"
    assert anchor_text("no anchors here") == ""


def test_the_version_hash_follows_scoring_settings_but_not_the_device():
    base = RerankerConfig()

    assert base.version.startswith("mg-values-reranker/1+")
    assert base.replace(device="cuda", batch_size=1024).version == base.version
    assert base.replace(contrastive_lambda=0.0).version != base.version


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="chunking"):
        RerankerConfig(chunking="paragraphs")
    with pytest.raises(ValueError, match="window_stride"):
        RerankerConfig(window_stride=100)


def test_the_reranker_imports_without_django_or_torch():
    modules = ", ".join(
        f"moralgraph.reranker.{name}"
        for name in (
            "api",
            "bundle",
            "chunking",
            "config",
            "encoder",
            "retrieval",
            "scoring",
            "server",
            "__main__",
        )
    )
    code = (
        f"import sys; import {modules}\n"
        "heavy = {'django', 'torch', 'sentence_transformers', 'transformers'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    root = Path(__file__).resolve().parents[2]

    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        cwd=root,
    )

    assert result.returncode == 0, result.stderr
