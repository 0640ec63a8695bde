"""Celery worker metrics: task run times, served on MGE_WORKER_METRICS_PORT.

A prefork worker's tasks run in child processes, so with PROMETHEUS_MULTIPROC_DIR set every
child writes its samples there and the parent's server adds them up.
"""

import logging
import os
import time

from celery import signals
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from .logcontext import request_id_var
from .metrics import TASK_DURATION

logger = logging.getLogger(__name__)
_started: dict[str, float] = {}


def connect_signals() -> None:
    signals.worker_ready.connect(metrics_server_start, weak=False)
    signals.task_prerun.connect(task_started, weak=False)
    signals.task_postrun.connect(task_finished, weak=False)
    signals.worker_process_shutdown.connect(child_exited, weak=False)


def metrics_server_start(**_: object) -> None:
    port = settings.MGE_WORKER_METRICS_PORT
    if not port:
        return
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)
    logger.info("worker metrics on port %s", port)


def task_started(task_id: str, **_: object) -> None:
    _started[task_id] = time.monotonic()
    request_id_var.set(task_id)


def task_finished(task_id: str, task, state: str | None = None, **_: object) -> None:
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_DURATION.labels(task.name, state or "UNKNOWN").observe(time.monotonic() - started)


def child_exited(pid: int | None = None, **_: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())
