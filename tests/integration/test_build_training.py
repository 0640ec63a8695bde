"""build_training: N answers per prompt from the (fake) LLM, scored, written as training rows."""

import json
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from elicitation.models import LLMCall
from moralgraph.export import build_bundle, write_bundle
from moralgraph.export.formats import read_jsonl
from moralgraph.export.training import GUIDANCE_SCORER_VERSION, NAIVE, VALUE_GUIDED
from tests.export_support import tiny_inputs, validate_directory
from tests.fakes.openai_server import Error, Reply

DILEMMAS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "daily-dilemmas"
GRIEF = "I am grieving the loss of my father and I cannot stop crying. What should I do?"
UNRELATED = "What is the melting point of tungsten in kelvin?"


def answer_by_guidance(request: dict):
    """Answer differently with and without a system prompt, so the two can be told apart."""
    system = [m for m in request["messages"] if m["role"] == "system"]
    return Reply("A guided answer that stays with the loss." if system else "A plain answer.")


@pytest.fixture
def bundle(tmp_path) -> Path:
    return write_bundle(build_bundle(tiny_inputs()), tmp_path / "bundle")


@pytest.fixture
def prompts(tmp_path) -> Path:
    path = tmp_path / "prompts.jsonl"
    rows = [{"id": "grief-1", "prompt": GRIEF}, {"id": "far-1", "prompt": UNRELATED}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def llm(fake_llm, llm_settings):
    fake_llm.responder = answer_by_guidance
    return fake_llm


def build(bundle, prompts, *extra):
    out = StringIO()
    call_command(
        "build_training",
        "--bundle",
        str(bundle),
        "--prompts",
        str(prompts),
        "--n",
        "4",
        "--scorer",
        "guidance",
        *extra,
        stdout=out,
        stderr=StringIO(),
    )
    return out.getvalue()


def rows(bundle, name):
    return read_jsonl((bundle / "training" / name).read_bytes())


def test_value_guided_answers_are_chosen_over_naive_ones(db, llm, bundle, prompts):
    output = build(bundle, prompts)
    assert "preference pairs: 1" in output
    (pair,) = rows(bundle, "preference_trl.jsonl")
    assert pair["prompt"] == [{"role": "user", "content": GRIEF}]
    assert pair["chosen"] == [
        {"role": "assistant", "content": "A guided answer that stays with the loss."}
    ]
    assert pair["rejected"] == [{"role": "assistant", "content": "A plain answer."}]
    assert (pair["chosen_source"], pair["rejected_source"]) == (VALUE_GUIDED, NAIVE)
    assert pair["context_id"] == "c10" and pair["value_ids"] == ["v2", "v1", "v4"]


def test_every_row_records_graph_and_scorer_versions(db, llm, bundle, prompts):
    build(bundle, prompts)
    graph_version = json.loads((bundle / "manifest.json").read_text())["graph_version"]
    names = ["preference_trl.jsonl", "prompts.jsonl", "candidates.jsonl"]
    for row in [r for name in names for r in rows(bundle, name)]:
        assert (row["graph_version"], row["scorer_version"]) == (
            graph_version,
            GUIDANCE_SCORER_VERSION,
        )
    (dpo,) = rows(bundle, "preference_openai_dpo.jsonl")
    assert dpo["input"] == {"messages": [{"role": "user", "content": GRIEF}]}
    assert dpo["preferred_output"][0]["content"].startswith("A guided answer")
    assert dpo["metadata"]["graph_version"] == graph_version


def test_a_prompt_no_context_fits_gets_a_prompt_row_and_no_answers(db, llm, bundle, prompts):
    build(bundle, prompts)
    prompt_rows = {row["prompt_id"]: row for row in rows(bundle, "prompts.jsonl")}
    assert prompt_rows["far-1"]["context_id"] is None
    assert prompt_rows["far-1"]["value_ids"] == []
    assert {row["prompt_id"] for row in rows(bundle, "candidates.jsonl")} == {"grief-1"}
    assert len(llm.requests) == 4


def test_the_guided_system_prompt_carries_the_context_values_as_data(db, llm, bundle, prompts):
    build(bundle, prompts)
    guided, naive = llm.requests[0]["messages"], llm.requests[-1]["messages"]
    system = guided[0]["content"]
    assert guided[0]["role"] == "system" and guided[1] == {"role": "user", "content": GRIEF}
    assert "<context_text>\nWhen the user is grieving the death of someone they love" in system
    assert "<card_text>\nTitle: Gentle Presence" in system
    assert system.index("Gentle Presence") < system.index("Moving On")
    assert naive == [{"role": "user", "content": GRIEF}]


def test_each_answer_is_an_llm_call_with_its_prompt_version(db, llm, bundle, prompts):
    build(bundle, prompts)
    calls = LLMCall.objects.filter(purpose="training_answer").order_by("id")
    assert [c.prompt_name for c in calls] == ["value_guided_answer"] * 2 + ["naive"] * 2
    assert calls[0].prompt_version.startswith("1-") and calls[3].prompt_version == ""
    assert all(c.model == "fake-model" and not c.error for c in calls)


def test_training_files_match_their_schemas_and_join_the_bundle(db, llm, bundle, prompts):
    before = json.loads((bundle / "manifest.json").read_text())
    build(bundle, prompts)
    checked = validate_directory(bundle)
    assert {"training/preference_trl.jsonl", "training/manifest.json"} <= set(checked)
    after = json.loads((bundle / "manifest.json").read_text())
    assert after["graph_version"] == before["graph_version"]
    assert after["training"]["scorer_version"] == GUIDANCE_SCORER_VERSION
    listed = after["files"]["training/preference_trl.jsonl"]
    assert listed["rows"] == 1
    card = (bundle / "README.md").read_text()
    meta = yaml.safe_load(card[4:].partition("\n---\n")[0])
    names = {c["config_name"] for c in meta["configs"]}
    assert {"training_preference_trl", "training_preference_openai_dpo"} <= names
    assert after["files"]["README.md"]["bytes"] == len(card.encode())


def test_training_rows_load_with_hugging_face_datasets(db, llm, bundle, prompts, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    build(bundle, prompts)
    cache = str(bundle.parent / "cache")
    for name in ("training_preference_trl", "training_preference_openai_dpo", "training_prompts"):
        table = datasets.load_dataset(str(bundle), name, split="train", cache_dir=cache)
        assert table.num_rows >= 1


def test_a_failed_answer_is_skipped_and_counted(db, llm, llm_settings, bundle, prompts):
    llm.script(*[Error(500)] * (llm_settings.LLM_MAX_RETRIES + 1))
    output = build(bundle, prompts)
    assert "candidates: 3 (1 LLM calls failed)" in output
    assert len(rows(bundle, "candidates.jsonl")) == 3
    assert len(rows(bundle, "preference_trl.jsonl")) == 1


def test_an_unconfigured_llm_stops_the_command(db, settings, bundle, prompts):
    settings.LLM_BASE_URL = ""
    settings.LLM_API_KEY = ""
    with pytest.raises(CommandError, match="LLM_BASE_URL"):
        build(bundle, prompts)


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--n", "1"], "at least 2 answers"), (["--limit", "-1"], "limit must be 0 or more")],
)
def test_bad_arguments_are_refused(db, llm, bundle, prompts, extra, message):
    with pytest.raises(CommandError, match=message):
        build(bundle, prompts, *extra)


def test_a_prompts_file_without_prompts_is_refused(db, llm, bundle, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "no prompt field"}\n')
    with pytest.raises(CommandError, match="bad.jsonl:1: needs a non-empty string 'prompt'"):
        build(bundle, bad)


@pytest.mark.skipif(not (DILEMMAS / "dilemma.csv").exists(), reason="DailyDilemmas not found")
def test_daily_dilemmas_csv_is_read_as_prompts(db, llm, bundle, tmp_path):
    build(bundle, DILEMMAS / "dilemma.csv", "--limit", "3", "--out", str(tmp_path / "t"))
    prompt_rows = read_jsonl((tmp_path / "t" / "prompts.jsonl").read_bytes())
    assert [row["prompt_id"] for row in prompt_rows][:1] == ["dailydilemmas-55"]
    assert len(prompt_rows) == 3
    assert "training" not in json.loads((bundle / "manifest.json").read_text())


def test_auto_falls_back_to_guidance_when_the_reranker_cannot_load(monkeypatch, bundle):
    from moralgraph import training_build
    from moralgraph.reranker.bundle import load_bundle

    monkeypatch.setattr(training_build, "RERANKER_MODULE", "moralgraph.reranker.not_there")
    scorer = training_build.make_scorer("auto", load_bundle(bundle))
    assert scorer.version == GUIDANCE_SCORER_VERSION


def test_the_values_reranker_scores_and_retrieves_when_it_loads(db, llm, bundle, prompts):
    pytest.importorskip("sentence_transformers")
    out = StringIO()
    call_command(
        "build_training",
        "--bundle",
        str(bundle),
        "--prompts",
        str(prompts),
        "--n",
        "2",
        "--scorer",
        "reranker",
        stdout=out,
        stderr=StringIO(),
    )
    candidates = rows(bundle, "candidates.jsonl")
    assert {row["prompt_id"] for row in candidates} == {"grief-1"}
    assert all(isinstance(row["score"], float) for row in candidates)
    assert candidates[0]["scorer_version"].startswith("mg-values-reranker/")
    prompt_rows = {row["prompt_id"]: row for row in rows(bundle, "prompts.jsonl")}
    assert prompt_rows["far-1"]["context_id"] is None
