"""Dashboard exports: the bundle written by a job, zipped, and downloaded by staff only."""

import io
import json
import zipfile

import pytest
from django.urls import reverse

from dashboard.jobs import job_start
from dashboard.models import Job
from elicitation.models import Study
from tests.factories import small_graph

pytestmark = pytest.mark.django_db

SALT = "organizer-secret-salt"


@pytest.fixture
def export_root(settings, tmp_path):
    settings.MGE_EXPORT_ROOT = str(tmp_path / "exports")
    settings.MGE_EXPORT_SALT = None
    return tmp_path / "exports"


def exports_url(study) -> str:
    return reverse("dashboard:exports", args=[study.slug])


def download_url(study, job) -> str:
    return reverse("dashboard:export_download", args=[study.slug, job.pk])


def start(client, study, **fields):
    return client.post(
        reverse("dashboard:job_start", args=[study.slug]), {"kind": "export", **fields}
    )


def test_an_export_is_downloaded_as_a_zip_of_the_bundle(staff, study, committed, export_root):
    small_graph(study)

    response = committed(start, staff, study)

    job = Job.objects.get()
    assert response.url == reverse("dashboard:job", args=[study.slug, job.pk])
    assert job.state == Job.State.DONE, job.error
    assert job.result["path"] == f"{study.slug}/job-{job.pk}/bundle"
    assert job.result["counts"]["values"] == 3 and "graph.json" in job.result["files"]
    download = staff.get(download_url(study, job))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="abortion-study-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    manifest = json.loads(archive.read("bundle/manifest.json"))
    assert manifest["graph_version"] == job.result["graph_version"]
    assert "bundle/votes.jsonl" not in archive.namelist()


def test_the_exports_page_lists_exports_with_their_version_and_link(
    staff, study, committed, export_root
):
    job = committed(job_start, study=study, kind="export")
    job.refresh_from_db()

    page = staff.get(exports_url(study)).content.decode()

    assert job.result["graph_version"] in page
    assert download_url(study, job) in page


def test_votes_are_refused_with_a_message_while_no_salt_is_configured(staff, study, export_root):
    page = staff.get(exports_url(study)).content.decode()
    assert 'name="include_votes" value="on" disabled' in page
    assert "set <code>MGE_EXPORT_SALT</code>" in page

    response = start(staff, study, include_votes="on")

    assert response.url == exports_url(study)
    shown = staff.get(response.url).content.decode()
    assert "Votes can be exported only with a salt to hash rater ids: set MGE_EXPORT_SALT." in (
        shown
    )
    assert not Job.objects.exists()


def test_with_a_salt_votes_are_exported_and_the_salt_is_not_stored(
    staff, study, committed, export_root, settings
):
    settings.MGE_EXPORT_SALT = SALT
    small_graph(study)
    page = staff.get(exports_url(study)).content.decode()
    assert 'name="include_votes" value="on">' in page

    committed(start, staff, study, include_votes="on")

    job = Job.objects.get()
    assert job.state == Job.State.DONE, job.error
    assert job.params == {"include_votes": True}
    assert "votes.jsonl" in job.result["files"] and job.result["counts"]["exported_votes"] == 12
    stored = Job.objects.filter(pk=job.pk).values_list("params", "result", "message", "error")
    assert SALT not in json.dumps(list(stored[0]))


def test_another_studys_export_is_not_found(staff, study, committed, export_root):
    other = Study.objects.create(slug="other", title="Other")
    job = committed(job_start, study=other, kind="export")

    assert staff.get(download_url(study, job)).status_code == 404
    assert staff.get(download_url(other, job)).status_code == 200


def test_an_unfinished_export_or_one_whose_file_is_gone_is_not_found(
    staff, study, committed, export_root
):
    done = committed(job_start, study=study, kind="export")
    done.refresh_from_db()
    running = Job.objects.create(study=study, kind="export", state=Job.State.RUNNING)
    assert staff.get(download_url(study, running)).status_code == 404

    (export_root / done.result["zip"]).unlink()

    assert staff.get(download_url(study, done)).status_code == 404
    assert (
        "The bundle's file is gone"
        in staff.get(reverse("dashboard:job", args=[study.slug, done.pk])).content.decode()
    )


def test_a_path_outside_the_export_root_is_never_served(staff, study, export_root, tmp_path):
    (tmp_path / "secret.zip").write_bytes(b"not yours")
    job = Job.objects.create(
        study=study, kind="export", state=Job.State.DONE, result={"zip": "../secret.zip"}
    )

    assert staff.get(download_url(study, job)).status_code == 404


def test_visitors_without_staff_rights_cannot_download(client, study, committed, export_root):
    job = committed(job_start, study=study, kind="export")

    response = client.get(download_url(study, job))

    assert response.status_code == 302 and "/login/" in response.url


def test_an_export_can_carry_the_comparison_with_an_earlier_build(
    staff, study, committed, export_root
):
    from moralgraph.services import graph_build
    from tests.factories import voted_study
    from tests.graph_support import FAST
    from tests.integration.test_export_comparison import a_new_wiser_value

    context = voted_study(study)
    earlier = graph_build(study=study, config=FAST)
    a_new_wiser_value(study, context)
    later = graph_build(study=study, config=FAST)
    page = staff.get(exports_url(study)).content.decode()
    assert f'<option value="{earlier.pk}">' in page
    assert f'<option value="{later.pk}">' not in page  # the newest has nothing to compare to

    committed(start, staff, study, compare_with=str(earlier.pk))

    job = Job.objects.get()
    assert job.state == Job.State.DONE, job.error
    assert job.params["compare_with"] == earlier.pk and "comparison.json" in job.result["files"]
    bundle = export_root / job.result["path"]
    assert json.loads((bundle / "comparison.json").read_text())["later"]["id"] == later.pk


@pytest.mark.parametrize("pick", ["newest", "other study", "not a number"])
def test_an_export_refuses_to_compare_with_a_build_it_cannot(staff, study, export_root, pick):
    from moralgraph.services import graph_build
    from tests.factories import voted_study
    from tests.graph_support import FAST

    voted_study(study)
    newest = graph_build(study=study, config=FAST)
    other = Study.objects.create(slug="other-study", title="Other")
    voted_study(other)
    theirs = graph_build(study=other, config=FAST)
    value = {"newest": newest.pk, "other study": theirs.pk, "not a number": "x"}[pick]

    response = start(staff, study, compare_with=str(value))

    assert not Job.objects.filter(study=study).exists()
    page = staff.get(response.url).content.decode()
    assert "Compare with an earlier build of this study (not its newest)." in page
