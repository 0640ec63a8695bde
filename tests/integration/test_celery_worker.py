"""The production path: a task queued on Redis runs in a real Celery worker process, and a
task whose worker was killed runs on the next worker.

Runs only when REDIS_URL names a broker (stage b of scripts/test.sh, PostgreSQL + Redis). Each
worker is a separate process started against the same test database and the fake LLM server.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from dashboard.jobs import job_start
from dashboard.models import Job
from elicitation.models import Context
from moralgraph.models import UpgradeHypothesis
from moralgraph.tasks import generate_hypotheses
from tests.factories import linked_value
from tests.fakes.openai_server import Reply

ROOT = Path(__file__).resolve().parents[2]
STORY = (
    "I used to hand my sister the facts and the options, sure that being thorough was the "
    "caring thing. When she went quiet after my neat list I felt useless and a little ashamed. "
    "Now I notice first what she is afraid of and let her say her own reasons out loud."
)

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (a real broker)"),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="a worker process needs a shared database server",
    ),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def start_worker():
    """Start a worker process in its own process group, with extra environment variables."""
    processes = []

    def start(*options: str, **environ: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DEBUG": "false",
            "DATABASE_URL": _test_database_url(),
            **environ,
        }
        command = [*WORKER, *options]
        processes.append(subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True))
        return processes[-1]

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:  # a warm shutdown waits for the task it runs
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def worker(start_worker, fake_llm, llm_settings):
    return start_worker(
        LLM_BASE_URL=fake_llm.base_url, LLM_API_KEY="sk-test", LLM_MODEL="fake-model"
    )


WORKER = [
    sys.executable,
    "-m",
    "celery",
    "-A",
    "config",
    "worker",
    "--pool",
    "solo",
    "--concurrency",
    "1",
    "--loglevel",
    "WARNING",
    "--without-heartbeat",
    "--without-mingle",
    "--without-gossip",
]


def _test_database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def queued_for_real():
    """Tests run tasks inline; this one hands them to the broker."""
    celery_app.conf.update(task_always_eager=False)
    yield
    celery_app.conf.update(task_always_eager=True)


def test_a_queued_task_runs_in_a_real_worker(study, fake_llm, worker, queued_for_real):
    context = Context.objects.create(study=study, name="When the user is facing a hard choice")
    a, b = linked_value(context, "Listing Options"), linked_value(context, "Close Care")
    fake_llm.script(
        Reply(json.dumps({"hypotheses": [{"from_id": a.pk, "to_id": b.pk, "story": STORY}]}))
    )

    result = generate_hypotheses.delay(study.pk, context.pk)

    assert result.get(timeout=90) == 1
    assert _wait_for(lambda: UpgradeHypothesis.objects.filter(context=context).exists())
    hypothesis = UpgradeHypothesis.objects.get(context=context)
    assert (hypothesis.from_value_id, hypothesis.to_value_id) == (a.pk, b.pk)
    assert len(fake_llm.requests) == 1


def test_a_job_whose_worker_was_killed_runs_once_on_the_next_worker(
    study, start_worker, queued_for_real, settings, tmp_path
):
    settings.MGE_JOBS_INLINE, settings.CELERY_TASK_ALWAYS_EAGER = False, False
    runs = tmp_path / "runs.log"
    slowed = ("--include", "tests.worker_support")
    first = start_worker(*slowed, MGE_TEST_JOB_LOG=str(runs), MGE_TEST_JOB_SLEEP="300")
    job = job_start(study=study, kind="dedupe")
    assert _wait_for(lambda: _events(runs) == ["start"], timeout=45), "the job never started"

    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    # Its message waits in Redis's unacked set; this worker's sweep puts it back on the queue.
    quick = {"CELERY_VISIBILITY_TIMEOUT": "2", "CELERY_UNACKED_RESTORE_INTERVAL": "1"}
    second = start_worker(*slowed, MGE_TEST_JOB_LOG=str(runs), MGE_JOB_STALE_SECONDS="1", **quick)

    assert _wait_for(lambda: _state(job) == Job.State.DONE, timeout=45), _state(job)
    job.refresh_from_db()
    assert (job.attempts, job.result) == (2, {"linked": 0, "new_values": 0})
    assert _events(runs) == ["start", "start", "end"]
    pids = [int(line.split()[1]) for line in runs.read_text().splitlines()]
    assert pids == [first.pid, second.pid, second.pid]


def _events(log: Path) -> list[str]:
    return [line.split()[0] for line in log.read_text().splitlines()] if log.exists() else []


def _state(job: Job) -> str:
    return Job.objects.values_list("state", flat=True).get(pk=job.pk)
