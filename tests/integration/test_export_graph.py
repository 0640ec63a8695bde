"""export_graph: a study in the database written as a bundle, twice, byte for byte."""

import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from elicitation import services
from elicitation.models import Context, ValuesCard, WisdomVote
from moralgraph.export import rater_hash
from moralgraph.export.formats import read_jsonl
from moralgraph.exporting import study_export
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis
from tests.export_support import validate_directory

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mai-dft"
SALT = "organizer-secret-salt"
JSONL = ("values", "contexts", "questions", "edges", "context_values", "votes")


def value(study, title):
    return CanonicalValue.objects.create(
        study=study,
        title=title,
        description=f"What {title} attends to.",
        policies=[f"{title.upper()} in the moment", "CHOICES that feel alive"],
    )


@pytest.fixture
def graph(study, question):
    """Three values, two contexts, three hypotheses; six voters who consented, one who then
    declined, one who never consented, all voting on every hypothesis."""
    a, b, c = (value(study, title) for title in ("Honesty", "Gentle Presence", "Courage"))
    grief = Context.objects.create(study=study, name="When the user is grieving")
    grief.questions.add(question)
    doubt = Context.objects.create(study=study, name="When the user doubts themselves")
    card = ValuesCard.objects.create(
        study=study, title="Honesty", description="d", policies=["X"], context=grief
    )
    CardLink.objects.create(card=card, value=a, method=CardLink.Method.NEW)
    hypotheses = [
        UpgradeHypothesis.objects.create(study=study, context=grief, from_value=a, to_value=b),
        UpgradeHypothesis.objects.create(study=study, context=grief, from_value=b, to_value=c),
        UpgradeHypothesis.objects.create(study=study, context=doubt, from_value=a, to_value=c),
    ]
    voters = []
    for number in range(8):
        voter = services.participant_start(study=study)
        voter.prolific_pid = f"PROLIFIC{number:04d}XYZ"
        voter.demographics = {"usPoliticalAffiliation": ("Democrat", "Republican")[number % 2]}
        voter.save()
        if number < 7:
            services.participant_consent(participant=voter, agreed=True)
        if number == 6:
            services.participant_consent(participant=voter, agreed=False)
        voters.append(voter)
    for number, voter in enumerate(voters):
        for h, hypothesis in enumerate(hypotheses):
            answer = "wiser" if (number + h) % 4 else "not_wiser"
            WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer=answer)
    return {"values": (a, b, c), "contexts": (grief, doubt), "voters": voters}


def read(root: Path, name: str):
    return read_jsonl((root / name).read_bytes())


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_exporting_twice_gives_identical_bytes(graph, study, tmp_path):
    first = study_export(study, tmp_path / "one", include_votes=True, salt=SALT)
    second = study_export(study, tmp_path / "two", include_votes=True, salt=SALT)
    assert all_files(first) == all_files(second)
    assert len(all_files(first)) > 20


def test_every_file_matches_its_schema(graph, study, tmp_path):
    root = study_export(study, tmp_path / "b", include_votes=True, salt=SALT)
    checked = validate_directory(root)
    assert {"manifest.json", "graph.json", "votes.jsonl", "context_values.jsonl"} <= set(checked)


def test_the_bundle_names_our_values_and_contexts(graph, study, tmp_path):
    root = study_export(study, tmp_path / "b")
    a, b, c = graph["values"]
    grief, doubt = graph["contexts"]
    assert [v["id"] for v in read(root, "values.jsonl")] == [f"v{a.pk}", f"v{b.pk}", f"v{c.pk}"]
    assert read(root, "values.jsonl")[0]["card_count"] == 1
    contexts = {row["id"]: row for row in read(root, "contexts.jsonl")}
    assert contexts[f"c{grief.pk}"]["question_ids"] == [f"q{study.questions.get().pk}"]
    edges = read(root, "edges.jsonl")
    shown = next(
        e for e in edges if (e["from_value_id"], e["to_value_id"]) == (f"v{a.pk}", f"v{b.pk}")
    )
    assert shown["counts"]["impressions"] == 8 and shown["counts"]["raters"] == 8
    assert {g["group"] for g in shown["bridging"]["groups"]} == {"Democrat", "Republican"}
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["counts"]["votes"] == 24 and manifest["counts"]["raters"] == 8
    assert manifest["embedding_model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_votes_come_only_from_consenting_participants_under_hashed_ids(graph, study, tmp_path):
    root = study_export(study, tmp_path / "b", include_votes=True, salt=SALT)
    votes = read(root, "votes.jsonl")
    consenting = [voter for number, voter in enumerate(graph["voters"]) if number < 6]
    assert len(votes) == 6 * 3
    assert {v["rater"] for v in votes} == {rater_hash(SALT, str(p.pk)) for p in consenting}
    everything = b"".join(all_files(root).values())
    for number, voter in enumerate(graph["voters"]):
        assert voter.token.encode() not in everything
        assert f"PROLIFIC{number:04d}XYZ".encode() not in everything  # voter 6 withdrew: ""
    assert SALT.encode() not in everything


def test_votes_are_left_out_unless_asked_for(graph, study, tmp_path):
    root = study_export(study, tmp_path / "b")
    assert not (root / "votes.jsonl").exists()
    with pytest.raises(ValueError, match="salt"):
        study_export(study, tmp_path / "c", include_votes=True, salt=None)


def test_a_merged_away_value_named_by_old_votes_stays_in_the_bundle(graph, study, tmp_path):
    a, b, c = graph["values"]
    old = value(study, "Old Honesty")
    old.merged_into = a
    old.save()
    grief = graph["contexts"][0]
    kept_alive = UpgradeHypothesis.objects.create(
        study=study, context=grief, from_value=old, to_value=c, is_active=False
    )
    WisdomVote.objects.create(participant=graph["voters"][0], hypothesis=kept_alive, answer="wiser")
    root = study_export(study, tmp_path / "b")
    row = next(v for v in read(root, "values.jsonl") if v["id"] == f"v{old.pk}")
    assert row["merged_into"] == f"v{a.pk}"


def test_every_jsonl_loads_with_hugging_face_datasets(graph, study, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    root = study_export(study, tmp_path / "b", include_votes=True, salt=SALT)
    cache = str(tmp_path / "cache")
    for name in JSONL:
        path = str(root / f"{name}.jsonl")
        table = datasets.load_dataset("json", data_files=path, split="train", cache_dir=cache)
        by_config = datasets.load_dataset(str(root), name, split="train", cache_dir=cache)
        assert table.num_rows == by_config.num_rows == len(read(root, f"{name}.jsonl")) > 0


def test_the_command_writes_the_bundle_and_reports_the_version(graph, study, tmp_path):
    out = StringIO()
    target = tmp_path / "bundle"
    call_command(
        "export_graph",
        "--study",
        study.slug,
        "--out",
        str(target),
        "--include-votes",
        "--salt",
        SALT,
        stdout=out,
    )
    manifest = json.loads((target / "manifest.json").read_text())
    assert f"graph version {manifest['graph_version']}" in out.getvalue()
    assert (target / "votes.jsonl").exists()


def test_the_command_reads_the_salt_from_a_file_and_takes_mai_settings(graph, study, tmp_path):
    salt_file = tmp_path / "salt"
    salt_file.write_text(SALT + "\n")
    target = tmp_path / "bundle"
    args = ["--study", study.slug, "--out", str(target), "--include-votes"]
    call_command("export_graph", *args, "--salt-file", str(salt_file), "--mai", stdout=StringIO())
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["config"]["entropy_mode"] == "mai_five_field"
    voter = graph["voters"][0]
    assert read(target, "votes.jsonl")[0]["rater"] in {
        rater_hash(SALT, str(p.pk)) for p in graph["voters"]
    }
    assert voter.token not in (target / "votes.jsonl").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope"], "No study with slug 'nope'"),
        (["--study", "abortion-study", "--include-votes"], "needs --salt"),
    ],
)
def test_the_command_refuses_bad_input(graph, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("export_graph", *args, "--out", str(tmp_path / "b"))


@pytest.mark.skipif(not (DATA / "edge.json").exists(), reason=f"MAI DFT data not at {DATA}")
def test_mai_data_exports_deterministically_and_matches_the_schemas(db, tmp_path):
    from elicitation.models import Study
    from moralgraph.importers.mai_dft import import_directory

    import_directory(DATA, study_slug="mai-dft")
    study = Study.objects.get(slug="mai-dft")
    first = study_export(study, tmp_path / "one", include_votes=True, salt=SALT)
    second = study_export(study, tmp_path / "two", include_votes=True, salt=SALT)
    assert all_files(first) == all_files(second)
    validate_directory(first)
    manifest = json.loads((first / "manifest.json").read_text())
    assert (
        manifest["counts"]["votes"] == WisdomVote.objects.filter(participant__study=study).count()
    )
    assert manifest["counts"]["exported_votes"] == manifest["counts"]["votes"]
    graph = json.loads((first / "graph.json").read_text())
    assert graph["edges"] and all(e["contexts"] for e in graph["edges"])
    assert os.path.getsize(first / "graph.graphml") > 0


def test_a_study_without_votes_exports_an_empty_graph(study, tmp_path):
    value(study, "Honesty")
    root = study_export(study, tmp_path / "b", include_votes=True, salt=SALT)
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["counts"]["votes"] == 0 and manifest["counts"]["edges"] == 0
    assert (root / "edges.jsonl").read_bytes() == b""
    assert len(read(root, "values.jsonl")) == 1
    validate_directory(root)
