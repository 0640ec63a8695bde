"""Dashboard jobs: who may start them, each kind run to its result, and how runs are guarded.

Jobs run inline here (MGE_JOBS_INLINE in the test settings), once the starting transaction
commits; `django_capture_on_commit_callbacks(execute=True)` stands in for that commit.
"""

import json
import threading
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import jobs, tasks
from dashboard.jobs import JobError, ProgressWriter, job_run, job_start, retry_delay
from dashboard.models import Job
from elicitation import services as elicitation_services
from elicitation.models import Context, Study, ValuesCard, WisdomVote
from moralgraph.aggregation import study_graph
from moralgraph.core import dumps, split_result
from moralgraph.models import CanonicalValue, GraphBuild, UpgradeHypothesis
from moralgraph.reranker import embedding
from moralgraph.selectors import latest_graph_build
from moralgraph.services import BUILD_INPUT_KEYS
from tests.factories import linked_value, small_graph, voted_chain
from tests.fakes.openai_server import Error, Reply, interviewer_responder

pytestmark = pytest.mark.django_db


def start_url(study) -> str:
    return reverse("dashboard:job_start", args=[study.slug])


def stale(job: Job) -> Job:
    long_ago = timezone.now() - timedelta(hours=2)
    Job.objects.filter(pk=job.pk).update(updated_at=long_ago)
    job.refresh_from_db()
    return job


# --- who may start jobs ---


def test_anonymous_visitors_are_sent_to_log_in_and_start_nothing(client, study):
    page = client.get(reverse("dashboard:jobs", args=[study.slug]))
    started = client.post(start_url(study), {"kind": "aggregate"})

    assert page.status_code == started.status_code == 302
    assert "/login/" in page.url and "/login/" in started.url
    assert not Job.objects.exists()


def test_participants_without_staff_rights_cannot_start_jobs(client, study, django_user_model):
    someone = django_user_model.objects.create_user(username="someone", password="pw-12345678")
    client.force_login(someone)

    response = client.post(start_url(study), {"kind": "aggregate"})

    assert response.status_code == 302 and "/login/" in response.url
    assert not Job.objects.exists()


def test_a_get_to_job_start_starts_nothing(staff, study):
    response = staff.get(start_url(study), {"kind": "aggregate"})

    assert response.status_code == 405
    assert not Job.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(study, organizer):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(organizer)

    response = browser.post(start_url(study), {"kind": "aggregate"})

    assert response.status_code == 403
    assert not Job.objects.exists()


# --- each kind runs and stores its result ---


def test_building_the_graph_stores_a_build_and_a_summary_of_it_on_the_job(staff, study, committed):
    small_graph(study)

    response = committed(staff.post, start_url(study), {"kind": "aggregate"})

    job = Job.objects.get()
    build = latest_graph_build(study)
    job_url = reverse("dashboard:job", args=[study.slug, job.pk])
    assert response.status_code == 302 and response.url == job_url
    assert (job.state, job.percent, job.error) == (Job.State.DONE, 100, "")
    summary, sections = split_result(json.loads(dumps(study_graph(study))))
    inputs = BUILD_INPUT_KEYS
    stored = {key: value for key, value in build.summary.items() if key not in inputs}
    assert (stored, dict(build.sections.values_list("key", "data"))) == (summary, sections)
    assert job.result == {
        "graph_build": build.pk,
        "graph_version": build.graph_version,
        "counts": build.summary["counts"],
        "publishable": build.summary["reliability"]["gate"]["publishable"],
        "changed_since": None,
        "recomputed": build.summary["recomputed"],
    }
    assert job.message == "12 votes by 6 voters on 3 values in 1 contexts."
    assert job.started_at and job.finished_at and job.created_by.username == "organizer"
    page = staff.get(job_url).content.decode()
    assert "12 votes by 6 voters" in page and "Reliability gate" in page
    assert reverse("dashboard:reports", args=[study.slug]) in page


def test_building_again_without_new_votes_reuses_the_stored_build(study, committed):
    small_graph(study)

    first = committed(job_start, study=study, kind="aggregate")
    second = committed(job_start, study=study, kind="aggregate")

    first.refresh_from_db()
    second.refresh_from_db()
    assert first != second and second.state == Job.State.DONE
    assert GraphBuild.objects.filter(study=study).count() == 1
    assert first.result["graph_build"] == second.result["graph_build"]


def test_deduplicating_links_the_confirmed_cards_without_a_value(
    study, organizer, committed, monkeypatch, settings
):
    settings.LLM_BASE_URL = settings.LLM_API_KEY = ""  # no judge: similarity alone decides
    monkeypatch.setattr(embedding, "embed_texts", one_hot_by_title)
    for title in ("Honesty", "Honesty", "Courage"):
        ValuesCard.objects.create(
            study=study, title=title, description="d", policies=["X"], status="confirmed"
        )
    ValuesCard.objects.create(study=study, title="Draft", description="d", policies=["X"])

    job = committed(job_start, study=study, kind="dedupe", user=organizer)

    job.refresh_from_db()
    assert job.state == Job.State.DONE
    assert job.result == {"linked": 3, "new_values": 2}
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert sorted(CanonicalValue.objects.values_list("title", flat=True)) == ["Courage", "Honesty"]


def one_hot_by_title(texts, **options):
    """Same title, same vector; different titles are orthogonal."""
    slots: dict[str, int] = {}
    vectors = np.zeros((len(texts), embedding.DIMENSION), dtype=np.float32)
    for row, text in enumerate(texts):
        title = text.split("\n")[0]
        vectors[row, slots.setdefault(title, sum(map(ord, title)) % embedding.DIMENSION)] = 1.0
    return vectors


def hypotheses_answer(*pairs) -> Reply:
    story = "I used to list options; then I saw her fear and let her reasons lead. " * 3
    rows = [{"from_id": a.pk, "to_id": b.pk, "story": story} for a, b in pairs]
    return Reply(json.dumps({"hypotheses": rows}))


def test_generating_hypotheses_goes_context_by_context(
    staff, study, committed, fake_llm, llm_settings
):
    context = Context.objects.create(study=study, name="When the user faces a hard decision")
    a, b = linked_value(context, "Listing Options"), linked_value(context, "Close Care")
    fake_llm.script(hypotheses_answer((a, b)))

    committed(staff.post, start_url(study), {"kind": "hypotheses", "force": "on"})

    job = Job.objects.get()
    assert job.state == Job.State.DONE, job.error
    assert job.params == {"force": True}
    assert job.result == {"contexts": 1, "stored": 1}
    assert UpgradeHypothesis.objects.get(context=context).from_value == a


def test_a_failing_job_ends_failed_with_a_readable_error(study, committed, fake_llm, llm_settings):
    context = Context.objects.create(study=study, name="When the user faces a hard decision")
    linked_value(context, "Listing Options"), linked_value(context, "Close Care")
    fake_llm.script(Reply("no JSON here"), Reply("still none"))

    job = committed(job_start, study=study, kind="hypotheses", params={"force": False})

    job.refresh_from_db()
    assert job.state == Job.State.FAILED and job.result is None
    assert job.error.startswith("LLMOutputInvalid: ")
    assert job.message.startswith("Failed: LLMOutputInvalid")
    assert job.finished_at is not None


@pytest.mark.django_db(transaction=True)  # simulated participants write from worker threads
def test_simulating_reports_each_participant_and_the_summary(
    study, committed, fake_llm, llm_settings, monkeypatch
):
    fake_llm.responder = pilot_responder
    llm_settings.MGE_SIMULATE_CONCURRENCY = 1  # the in-memory SQLite test database
    llm_settings.MGE_DEDUPE_ON_CONFIRM = False
    written = []
    write = ProgressWriter.__call__

    def spy(self, done, total, message=""):
        written.append((done, total))
        write(self, done, total, message)

    monkeypatch.setattr(ProgressWriter, "__call__", spy)

    job = committed(job_start, study=study, kind="simulate", params={"participants": 2})

    job.refresh_from_db()
    assert job.state == Job.State.DONE, job.error
    assert written == [(0, 2), (1, 2), (2, 2)]
    assert (job.progress_done, job.progress_total) == (2, 2)
    assert job.result["participants"] == job.result["completed"] == job.result["cards"] == 2
    assert "Completed: 2 of 2." in job.result["text"]
    assert job.message == "Completed 2 of 2 participants."


def pilot_responder(request: dict):
    """The persona writes one plain sentence; the interviewer plays as usual."""
    system = request["messages"][0]["content"] if request.get("messages") else ""
    if "<transcript_text>" in system:
        return Reply("When my sister faced this hard decision I listened to her own reasons.")
    return interviewer_responder(request)


@pytest.mark.parametrize(
    ("participants", "message"),
    [(0, "between 1 and 200"), (201, "between 1 and 200"), ("ten", "between 1 and 200")],
)
def test_simulating_needs_a_sensible_number_of_participants(
    study, llm_settings, participants, message
):
    with pytest.raises(JobError, match=message):
        job_start(study=study, kind="simulate", params={"participants": participants})
    assert not Job.objects.exists()


def test_simulating_refuses_a_closed_study_and_explains_why(staff, study, llm_settings):
    Study.objects.filter(pk=study.pk).update(state=Study.State.CLOSED)

    response = staff.post(start_url(study), {"kind": "simulate", "participants": "3"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("dashboard:jobs", args=[study.slug])
    assert "This study is closed: simulated participants would join its data." in (
        response.content.decode()
    )
    assert not Job.objects.exists()


def test_an_unknown_kind_or_parameter_is_refused_with_a_message(study):
    with pytest.raises(JobError, match="There is no job called “nap”"):
        job_start(study=study, kind="nap")
    with pytest.raises(JobError, match="Build the moral graph takes no force"):
        job_start(study=study, kind="aggregate", params={"force": True})


# --- how runs are guarded ---


def test_starting_a_kind_already_under_way_returns_that_job(study, organizer):
    first = job_start(study=study, kind="aggregate", user=organizer)  # not committed: queued
    second = job_start(study=study, kind="aggregate", user=organizer)
    other_kind = job_start(study=study, kind="dedupe", user=organizer)

    assert second == first and other_kind != first
    assert Job.objects.filter(kind="aggregate").count() == 1


def test_a_stale_running_job_shows_as_interrupted_and_can_be_started_again(staff, study, committed):
    old = stale(Job.objects.create(study=study, kind="aggregate", state=Job.State.RUNNING))
    page = staff.get(reverse("dashboard:jobs", args=[study.slug])).content.decode()
    assert f'data-job-state="{old.pk}">interrupted<' in page

    new = committed(job_start, study=study, kind="aggregate")

    old.refresh_from_db()
    assert new != old and Job.objects.get(pk=new.pk).state == Job.State.DONE
    assert old.state == Job.State.FAILED
    assert old.error.startswith("Interrupted: no progress since ")
    assert old.error.endswith(f"Started again as job {new.pk}.")


def test_running_a_finished_job_again_does_nothing(study):
    job = Job.objects.create(
        study=study, kind="aggregate", state=Job.State.DONE, result={"counts": {}}, message="x"
    )

    assert job_run(job_id=job.pk) is None

    job.refresh_from_db()
    assert (job.state, job.result, job.message) == (Job.State.DONE, {"counts": {}}, "x")


def test_a_redelivered_job_runs_only_if_its_first_run_went_stale(study):
    running = Job.objects.create(study=study, kind="aggregate", state=Job.State.RUNNING)
    assert job_run(job_id=running.pk) is None  # another worker is on it

    stale(running)
    assert job_run(job_id=running.pk).state == Job.State.DONE


def test_progress_is_written_at_most_twice_a_second_but_always_at_the_end(study):
    job = Job.objects.create(study=study, kind="dedupe", state=Job.State.RUNNING)
    now = [100.0]
    progress = ProgressWriter(job.pk, clock=lambda: now[0])

    def seen():
        job.refresh_from_db()
        return job.progress_done, job.message

    progress(1, 10, "one")
    assert seen() == (1, "one")
    now[0] += 0.2
    progress(2, 10, "two")
    assert seen() == (1, "one")
    now[0] += 0.4
    progress(3, 10, "three")
    assert seen() == (3, "three")
    progress(10, 10, "all")
    assert seen() == (10, "all")


@pytest.mark.django_db(transaction=True)
def test_progress_told_inside_the_work_transaction_is_seen_by_the_dashboard_at_once(study):
    from django.db import connection, transaction

    if connection.vendor == "sqlite":
        pytest.skip("SQLite has one writer: there the bar moves when the work commits")
    job = Job.objects.create(study=study, kind="build", state=Job.State.RUNNING)
    progress = ProgressWriter(job.pk)
    seen = []

    def dashboard_reads() -> None:
        seen.append(Job.objects.get(pk=job.pk).progress_done)
        connection.close()

    with transaction.atomic():
        progress(4, 10, "1 of 6 contexts written.")
        reader = threading.Thread(target=dashboard_reads)
        reader.start()
        reader.join()

    assert seen == [4]


def test_with_a_broker_the_job_goes_to_a_worker_and_keeps_the_task_id(
    study, committed, settings, monkeypatch
):
    settings.MGE_JOBS_INLINE = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent = []
    monkeypatch.setattr(
        tasks.job_run,
        "apply_async",
        lambda args, countdown: sent.append((*args, countdown)) or SimpleNamespace(id="t-1"),
    )

    job = committed(job_start, study=study, kind="aggregate")

    job.refresh_from_db()
    assert sent == [(job.pk, None)]
    assert (job.state, job.task_id) == (Job.State.QUEUED, "t-1")


def test_the_celery_task_runs_the_job(study):
    job = Job.objects.create(study=study, kind="aggregate")

    assert tasks.job_run.delay(job.pk).get() == Job.State.DONE


@pytest.mark.django_db(transaction=True)  # the thread has its own connection
def test_without_a_broker_the_job_runs_on_a_thread_and_the_request_returns(study, settings):
    settings.MGE_JOBS_INLINE = False
    settings.CELERY_TASK_ALWAYS_EAGER = True

    job = job_start(study=study, kind="aggregate")  # autocommit: dispatched at once

    for thread in threading.enumerate():
        if thread.name == f"job-{job.pk}":
            thread.join(30)
    job.refresh_from_db()
    assert job.state == Job.State.DONE


# --- pages ---


def test_the_jobs_page_lists_jobs_and_offers_each_kind(staff, study, organizer):
    Job.objects.create(
        study=study,
        kind="dedupe",
        state=Job.State.RUNNING,
        progress_done=1,
        progress_total=4,
        message="1 of 4 cards deduplicated.",
        created_by=organizer,
    )

    page = staff.get(reverse("dashboard:jobs", args=[study.slug])).content.decode()

    for kind in ("dedupe", "hypotheses", "aggregate", "simulate"):
        assert f'name="kind" value="{kind}"' in page
    assert 'value="25"' in page and "1 of 4 cards deduplicated." in page
    assert "dashboard/_live.html" not in page and "data-live-socket" in page


def test_the_status_json_gives_the_row_and_names_the_stored_graph(staff, study, committed):
    job = committed(job_start, study=study, kind="aggregate")
    job.refresh_from_db()

    data = staff.get(reverse("dashboard:job_status", args=[study.slug, job.pk])).json()

    assert data["state"] == "done" and data["percent"] == 100 and data["stale"] is False
    build = latest_graph_build(study)
    assert data["result"]["graph_build"] == build.pk
    assert data["result"]["graph_version"] == build.graph_version
    assert data["result"]["counts"] == build.summary["counts"]
    missing = staff.get(reverse("dashboard:job_status", args=["elsewhere", job.pk]))
    assert missing.status_code == 404


# --- a model that is unavailable ---


@pytest.fixture
def dispatched(monkeypatch):
    """Each dispatch of a job as (delay, the job's message then); dispatching goes on as usual."""
    seen = []
    dispatch = jobs._dispatch

    def spy(job_id, *, delay=0.0):
        seen.append((delay, Job.objects.get(pk=job_id).message))
        dispatch(job_id, delay=delay)

    monkeypatch.setattr(jobs, "_dispatch", spy)
    return seen


def two_values(study):
    context = Context.objects.create(study=study, name="When the user faces a hard decision")
    return linked_value(context, "Listing Options"), linked_value(context, "Close Care")


def test_a_job_whose_model_was_down_twice_is_done_on_the_third_attempt(
    staff, study, committed, fake_llm, llm_settings, dispatched
):
    llm_settings.LLM_MAX_RETRIES = 0
    llm_settings.MGE_JOB_RETRY_SECONDS = 40
    fake_llm.script(Error(503), Error(503), hypotheses_answer(two_values(study)))

    job = committed(job_start, study=study, kind="hypotheses")

    job.refresh_from_db()
    assert (job.state, job.attempts, job.error) == (Job.State.DONE, 3, "")
    assert job.result == {"contexts": 1, "stored": 1} and len(fake_llm.requests) == 3
    (start, _), (first, waiting), (second, waiting_again) = dispatched
    assert start == 0 and 20 <= first <= 40 and 40 <= second <= 80
    assert waiting == f"The model is unavailable; trying again in {first:.0f} s (attempt 2 of 4)."
    assert waiting_again.endswith(f"in {second:.0f} s (attempt 3 of 4).")
    page = staff.get(reverse("dashboard:job", args=[study.slug, job.pk])).content.decode()
    assert '<th scope="row">Attempts</th><td>3</td>' in page


def test_a_job_whose_model_stays_down_fails_after_the_last_attempt(
    study, committed, fake_llm, llm_settings, dispatched
):
    llm_settings.LLM_MAX_RETRIES = 0
    llm_settings.MGE_JOB_MAX_ATTEMPTS = 3
    fake_llm.responder = lambda request: Error(503)
    two_values(study)

    job = committed(job_start, study=study, kind="hypotheses")

    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.FAILED, 3)
    assert job.error.startswith("LLMUnavailable: The model API failed after 1 attempt(s)")
    assert job.message.startswith("Failed: LLMUnavailable")
    assert len(fake_llm.requests) == len(dispatched) == 3


def test_a_request_the_model_refuses_fails_at_once(
    study, committed, fake_llm, llm_settings, dispatched
):
    fake_llm.script(Error(400))
    two_values(study)

    job = committed(job_start, study=study, kind="hypotheses")

    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.FAILED, 1)
    assert job.error.startswith("LLMRequestRejected: ")
    assert len(fake_llm.requests) == len(dispatched) == 1


def test_with_a_broker_a_retry_is_queued_with_a_countdown(
    study, fake_llm, llm_settings, monkeypatch
):
    llm_settings.LLM_MAX_RETRIES = 0
    llm_settings.MGE_JOBS_INLINE = llm_settings.CELERY_TASK_ALWAYS_EAGER = False
    fake_llm.script(Error(503))
    two_values(study)
    sent = []
    monkeypatch.setattr(
        tasks.job_run,
        "apply_async",
        lambda args, countdown: sent.append((*args, countdown)) or SimpleNamespace(id="t-2"),
    )
    job = Job.objects.create(study=study, kind="hypotheses", params={"force": False})

    job = job_run(job_id=job.pk)

    assert (job.state, job.attempts, job.task_id) == (Job.State.QUEUED, 1, "t-2")
    [(job_id, countdown)] = sent
    assert job_id == job.pk and 15 <= countdown <= 30
    assert (
        job.message
        == f"The model is unavailable; trying again in {countdown:.0f} s (attempt 2 of 4)."
    )
    assert not job.is_stale


def test_the_wait_before_a_retry_doubles_with_jitter(settings):
    settings.MGE_JOB_RETRY_SECONDS = 30

    assert [retry_delay(attempt, rng=lambda: 0.0) for attempt in (1, 2, 3)] == [15, 30, 60]
    assert [retry_delay(attempt, rng=lambda: 1.0) for attempt in (1, 2, 3)] == [30, 60, 120]


def test_a_returned_message_for_a_job_still_marked_running_looks_again_once_it_is_stale(
    study, settings, monkeypatch
):
    settings.MGE_JOB_STALE_SECONDS = 900
    sent = []
    monkeypatch.setattr(
        tasks.job_run, "apply_async", lambda args, countdown: sent.append((*args, countdown))
    )
    running = Job.objects.create(study=study, kind="aggregate", state=Job.State.RUNNING)
    Job.objects.filter(pk=running.pk).update(updated_at=timezone.now() - timedelta(seconds=600))

    assert tasks.job_run(running.pk) is None

    [(job_id, countdown)] = sent
    assert job_id == running.pk
    assert 300 < countdown <= 306  # the 300 s left before it is stale, and a margin
    running.refresh_from_db()
    assert running.state == Job.State.RUNNING


def test_a_returned_message_for_a_finished_job_does_nothing(study, monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.job_run, "apply_async", lambda *a, **k: sent.append(a))
    done = Job.objects.create(study=study, kind="aggregate", state=Job.State.DONE)

    assert tasks.job_run(done.pk) is None
    assert sent == []


def one_more_vote_in(study, context) -> None:
    voter = elicitation_services.participant_start(study=study)
    elicitation_services.participant_consent(participant=voter, agreed=True)
    hypothesis = UpgradeHypothesis.objects.filter(context=context).first()
    WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer="wiser")


def test_the_build_job_says_how_many_contexts_new_votes_touched(staff, study, committed):
    graph = small_graph(study)
    committed(staff.post, start_url(study), {"kind": "aggregate"})
    first = latest_graph_build(study)
    one_more_vote_in(study, graph["context"])

    committed(staff.post, start_url(study), {"kind": "aggregate"})

    job = Job.objects.order_by("-pk").first()
    assert job.result["changed_since"]["changed"] == [str(graph["context"].pk)]
    page = staff.get(reverse("dashboard:job", args=[study.slug, job.pk])).content.decode()
    assert f"Since build #{first.pk}, new or changed votes touched 1 of 1 contexts" in page
    assert "Every context was recomputed (with one acquiescence term" in page


def test_the_build_job_says_which_contexts_it_bootstrapped_and_which_it_kept(
    staff, study, committed
):
    study.graph_acquiescence = Study.Acquiescence.PER_CONTEXT
    study.save(update_fields=["graph_acquiescence"])
    graph = small_graph(study)
    voted_chain(study, ("Calm", "Candour", "Patience"), name="When the user doubts")
    committed(staff.post, start_url(study), {"kind": "aggregate"})
    first = latest_graph_build(study)
    one_more_vote_in(study, graph["context"])

    committed(staff.post, start_url(study), {"kind": "aggregate"})

    job = Job.objects.order_by("-pk").first()
    assert job.result["recomputed"]["bootstrapped"] == [str(graph["context"].pk)]
    page = staff.get(reverse("dashboard:job", args=[study.slug, job.pk])).content.decode()
    assert (
        f"Kept from build #{first.pk}: the Bradley-Terry intervals of 1 context whose votes did "
        "not change, and 1 context section that came out the same. Bootstrapped again: 1 context."
    ) in page
