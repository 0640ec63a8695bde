"""export_graph --compare-with: the bundle carries what changed between two stored builds."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from elicitation.models import Study
from moralgraph.export.bundle import GRAPH_FILES
from moralgraph.exporting import study_export
from moralgraph.services import graph_build, graph_build_label
from tests.export_support import validate_directory
from tests.factories import a_new_wiser_value, voted_study
from tests.graph_support import FAST

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_waves(study):
    """A study built once as "wave 1", then again after a new, wiser value won a context."""
    context = voted_study(study)
    first = graph_build_label(build=graph_build(study=study, config=FAST), label="wave 1")
    newer = a_new_wiser_value(study, context)
    second = graph_build(study=study, config=FAST)
    return {"context": context, "newer": newer, "first": first, "second": second}


def comparison(root):
    return json.loads((root / "comparison.json").read_text())


def test_the_bundle_says_which_value_was_added_and_won_since_the_earlier_build(
    two_waves, study, tmp_path
):
    root = study_export(study, tmp_path / "b", compare_with=two_waves["first"])

    doc = comparison(root)
    context = doc["contexts"][f"c{two_waves['context'].pk}"]
    newer = f"v{two_waves['newer'].pk}"
    assert doc["earlier"]["id"] == two_waves["first"].pk and doc["earlier"]["label"] == "wave 1"
    assert doc["later"]["id"] == two_waves["second"].pk
    assert doc["later"]["votes"] > doc["earlier"]["votes"]
    assert newer in context["values_added"]
    assert context["winner"]["after"] == newer and context["winner_changed"] is True
    assert doc["totals"]["winners_changed"] >= 1


def test_the_comparison_is_in_the_manifest_matches_its_schema_and_leaves_the_version_alone(
    two_waves, study, tmp_path
):
    plain = study_export(study, tmp_path / "plain")
    compared = study_export(study, tmp_path / "compared", compare_with=two_waves["first"])

    manifest = json.loads((compared / "manifest.json").read_text())
    assert "comparison.json" in manifest["files"]
    assert "comparison.json" not in GRAPH_FILES
    assert "schemas/comparison.schema.json" in manifest["files"]
    assert (
        manifest["graph_version"]
        == json.loads((plain / "manifest.json").read_text())["graph_version"]
    )
    assert not (plain / "comparison.json").exists()
    validate_directory(compared)


def test_exporting_a_comparison_twice_gives_identical_bytes(two_waves, study, tmp_path):
    runs = [
        study_export(study, tmp_path / name, compare_with=two_waves["first"])
        for name in ("one", "two")
    ]

    def files(root):
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(runs[0]) == files(runs[1])


def test_the_command_finds_the_earlier_build_by_wave_label_or_id(two_waves, study, tmp_path):
    for name, folder in (("wave 1", "by-label"), (str(two_waves["first"].pk), "by-id")):
        out = StringIO()
        call_command(
            "export_graph",
            "--study",
            study.slug,
            "--out",
            str(tmp_path / folder),
            "--compare-with",
            name,
            stdout=out,
        )
        assert comparison(tmp_path / folder)["earlier"]["id"] == two_waves["first"].pk
        assert f"build {two_waves['first'].pk} against the newest" in out.getvalue()


@pytest.mark.parametrize(
    ("name", "message"), [("wave 9", "no build with id or label"), ("newest", "nothing to compare")]
)
def test_the_command_refuses_an_unknown_build_or_the_newest_itself(
    two_waves, study, tmp_path, name, message
):
    if name == "newest":
        name = str(two_waves["second"].pk)
    with pytest.raises(CommandError, match=message):
        call_command(
            "export_graph",
            "--study",
            study.slug,
            "--out",
            str(tmp_path / "b"),
            "--compare-with",
            name,
        )
    assert not (tmp_path / "b").exists()


def test_a_build_of_another_study_cannot_be_compared(two_waves, study, tmp_path):
    other = Study.objects.create(slug="other-study", title="Other")

    with pytest.raises(CommandError, match="no build with id or label"):
        call_command(
            "export_graph",
            "--study",
            other.slug,
            "--out",
            str(tmp_path / "b"),
            "--compare-with",
            str(two_waves["first"].pk),
        )
    with pytest.raises(ValueError, match="is not a build of study"):
        study_export(other, tmp_path / "c", compare_with=two_waves["first"])
