"""The dashboard's Build job on MAI's published data decides as the 200-refit bootstrap did:
the same winner in every context, the same reasons to withhold it, the same publishing gate
and the same bridging. The reference is the old path (`bt_bootstrap`) run in the test."""

import json
from pathlib import Path

import pytest

from dashboard.jobs import job_start
from dashboard.models import Job
from elicitation.models import Study
from moralgraph.aggregation import study_graph
from moralgraph.core import rank, report
from moralgraph.selectors import latest_graph_build

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "mai-dft"
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not (DATA / "edge.json").exists(), reason=f"MAI data not at {DATA}"),
]


@pytest.fixture
def mai_study(db) -> Study:
    from moralgraph.importers.mai_dft import import_directory

    import_directory(DATA, study_slug="mai-dft")
    return Study.objects.get(slug="mai-dft")


def decisions(contexts: dict) -> dict:
    """Per context id: the winner, every reason given against it, and its bridging."""
    return {
        str(cid): (w["value"], w["reasons"], w.get("bridging")) if (w := c["winner"]) else None
        for cid, c in contexts.items()
    }


def without_p_top_figure(found: dict) -> dict:
    """The reason that quotes P(top) keeps its place but not its printed figure."""
    return {
        cid: (d[0], [r.split(" P(top)")[0] for r in d[1]], d[2]) if d else None
        for cid, d in found.items()
    }


def test_the_build_job_on_mai_data_keeps_the_winners_gate_and_bridging(
    mai_study, committed, monkeypatch
):
    job = committed(job_start, study=mai_study, kind="aggregate")
    job.refresh_from_db()
    build = latest_graph_build(mai_study)
    sections = dict(build.sections.values_list("key", "data"))
    built = {key.split(":", 1)[1]: data for key, data in sections.items() if ":" in key}

    monkeypatch.setattr(report, "bt_intervals", rank.bt_bootstrap)
    reference = json.loads(report.dumps(study_graph(mai_study)))  # stored as JSON reads

    assert job.state == Job.State.DONE and job.result["graph_build"] == build.pk
    expected = decisions(reference["contexts"])
    assert sum(d is not None for d in expected.values()) >= 10
    assert without_p_top_figure(decisions(built)) == without_p_top_figure(expected)
    assert build.summary["reliability"]["gate"] == {
        "publishable": reference["reliability"]["gate"]["publishable"],
        "failures": list(reference["reliability"]["gate"]["failures"]),
        "checks": list(reference["reliability"]["gate"]["checks"]),
    }
    assert any(d and d[2] for d in decisions(built).values())  # bridging was computed
    for cid, section in built.items():
        old = {row["value"]: row["prob_top"] for row in reference["contexts"][cid]["bradley_terry"]}
        new = {row["value"]: row["prob_top"] for row in section["bradley_terry"]}
        assert new == pytest.approx(old, abs=0.05)
