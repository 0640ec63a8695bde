"""Celery tasks are timed into mge_task_seconds by task name and final state."""

import pytest
from prometheus_client import REGISTRY

from dashboard.tasks import job_run

pytestmark = pytest.mark.django_db

LABELS = {"task": "dashboard.tasks.job_run", "state": "SUCCESS"}


def test_a_finished_task_is_counted_with_its_state():
    before = REGISTRY.get_sample_value("mge_task_seconds_count", LABELS) or 0.0

    job_run.delay(987654)  # no such job: the task ends at once, successfully

    assert REGISTRY.get_sample_value("mge_task_seconds_count", LABELS) == before + 1
