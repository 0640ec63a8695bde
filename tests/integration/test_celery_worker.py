"""The production path: a task queued on Redis runs in a real Celery worker process.

Runs only when REDIS_URL names a broker (stage b of scripts/test.sh, PostgreSQL + Redis). The
worker is a separate process started against the same test database and the fake LLM server.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
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
def worker(fake_llm, llm_settings):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "DATABASE_URL": _test_database_url(),
        "LLM_BASE_URL": fake_llm.base_url,
        "LLM_API_KEY": "sk-test",
        "LLM_MODEL": "fake-model",
    }
    command = [
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
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    yield process
    process.terminate()
    process.wait(20)


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
