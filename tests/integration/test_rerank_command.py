"""manage.py rerank: one output row per input row, errors in place, on the real model."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moralgraph.export import build_bundle, write_bundle
from moralgraph.reranker.bundle import load_bundle
from moralgraph.reranker.config import RerankerConfig
from tests.export_support import tiny_inputs
from tests.reranker_support import (
    GRAPH_VERSION,
    GRIEF_PROMPT,
    OFF_TOPIC,
    PRESENT,
    UNRELATED_PROMPT,
)
from tests.reranker_support import write_bundle as write_tiny_bundle


def run(bundle, rows, tmp_path, *extra):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    stdout, stderr = StringIO(), StringIO()
    call_command(
        "rerank",
        "--bundle",
        str(bundle),
        "--input",
        str(source),
        "--out",
        str(out),
        *extra,
        stdout=stdout,
        stderr=stderr,
    )
    return (
        [json.loads(line) for line in out.read_text().splitlines()],
        stdout.getvalue(),
        stderr.getvalue(),
    )


@pytest.fixture
def bundle(tmp_path):
    return write_tiny_bundle(tmp_path / "bundle")


def test_every_input_row_gets_an_output_row_and_a_malformed_one_an_error(bundle, tmp_path):
    rows = [
        {"id": "a", "prompt": GRIEF_PROMPT, "candidates": [OFF_TOPIC, PRESENT]},
        "{not json\n",
        {"id": "c", "prompt": GRIEF_PROMPT},
        {"id": "d", "prompt": UNRELATED_PROMPT, "candidates": [PRESENT]},
    ]

    out, stdout, stderr = run(bundle, rows, tmp_path)

    assert [row.get("id") for row in out] == ["a", None, "c", "d"]
    first, broken, missing, unrelated = out
    assert first["scores"][1] > first["scores"][0]
    assert len(first["breakdown"]) == 2
    assert first["contexts"][0]["id"] == "c1"
    assert first["abstained"] is False
    assert first["scorer_version"] == RerankerConfig().version
    assert first["graph_version"] == GRAPH_VERSION
    assert first["candidates"] == [OFF_TOPIC, PRESENT]  # input fields are kept
    assert broken["line"] == 2 and broken["error"].startswith("line 2: ")
    assert missing["error"] == "line 3: 'candidates' must be a list of strings"
    assert unrelated["abstained"] is True and unrelated["scores"] == [0.0]
    assert "Wrote 4 rows" in stdout and "(2 with errors)" in stdout
    assert "line 2" in stderr


def test_rows_score_the_same_alone_and_in_a_batch(bundle, tmp_path):
    row = {"id": "a", "prompt": GRIEF_PROMPT, "candidates": [OFF_TOPIC, PRESENT]}

    alone, _, _ = run(bundle, [row], tmp_path)
    batched, _, _ = run(bundle, [row, {**row, "id": "b"}, row], tmp_path, "--batch-rows", "2")

    assert [r["scores"] for r in batched] == [alone[0]["scores"]] * 3


def test_a_missing_bundle_or_input_is_a_command_error(bundle, tmp_path):
    with pytest.raises(CommandError, match="not a bundle directory"):
        run(tmp_path / "absent", [], tmp_path)
    with pytest.raises(CommandError, match="No input file"):
        call_command(
            "rerank",
            "--bundle",
            str(bundle),
            "--input",
            str(tmp_path / "none.jsonl"),
            "--out",
            str(tmp_path / "out.jsonl"),
        )


def test_a_bundle_from_the_export_writer_loads_and_scores(tmp_path):
    exported = write_bundle(build_bundle(tiny_inputs()), tmp_path / "exported")
    manifest = json.loads((exported / "manifest.json").read_text())

    graph = load_bundle(exported)
    out, _, _ = run(
        exported, [{"id": "x", "prompt": GRIEF_PROMPT, "candidates": [PRESENT]}], tmp_path
    )

    assert graph.graph_version == manifest["graph_version"]
    assert graph.contexts and graph.values
    assert out[0]["graph_version"] == manifest["graph_version"]
    assert len(out[0]["scores"]) == 1


def test_asking_for_a_gpu_that_is_not_there_is_a_command_error_in_words(
    bundle, tmp_path, monkeypatch
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "prompt": "hi", "candidates": ["x"]}) + "\n")
    arguments = ["--bundle", str(bundle), "--input", str(source), "--out", str(tmp_path / "o")]

    with pytest.raises(CommandError, match="sees no CUDA GPU here; use --device cpu"):
        call_command("rerank", *arguments, "--device", "cuda")
    with pytest.raises(CommandError, match="Unknown device 'gpu'"):
        call_command("rerank", *arguments, "--device", "gpu")
