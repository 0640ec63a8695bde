"""Background jobs an organizer starts from the dashboard: starting one, and running it.

`job_start` checks what was asked and queues a `Job` row; `job_run` claims the row, does the
work while reporting progress to it, and records how it ended. The row is the only shared
state, so the same job runs the same way inline (tests), on a thread of the web process (no
broker) or on a Celery worker, and a redelivered or repeated run is harmless.
"""

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from elicitation.llm.client import is_configured
from elicitation.llm.errors import LLMUnavailable
from elicitation.models import Study
from moralgraph.models import GraphBuild

from .job_kinds import RUNNERS
from .models import Job

logger = logging.getLogger(__name__)

MAX_PARTICIPANTS = 200
PROGRESS_EVERY_SECONDS = 0.5
RECHECK_MARGIN_SECONDS = 5
MESSAGE_MAX = Job._meta.get_field("message").max_length
ERROR_MAX = 1000
JOB_TASK = "dashboard.tasks.job_run"


class JobError(ValueError):
    """A job cannot be started as asked; the message is meant for the organizer."""


# --- starting ---


def job_start(
    *,
    study: Study,
    kind: str,
    params: dict[str, Any] | None = None,
    user: AbstractBaseUser | None = None,
) -> Job:
    """Queue a job of `kind` on `study` and dispatch it once committed.

    A job of the same kind already queued or running (and not stale) is returned instead, so a
    double click starts one job. Stale ones are marked failed as interrupted. Raises JobError.
    """
    clean = _params_checked(study, kind, params or {})
    with transaction.atomic():
        Study.objects.select_for_update().get(pk=study.pk)  # one start at a time per study
        unfinished = list(_unfinished(study, kind))
        if live := [job for job in unfinished if not job.is_stale]:
            return live[0]
        job = Job.objects.create(
            study=study, kind=kind, params=clean, created_by=user, message="Queued."
        )
        _interrupted_mark(unfinished, successor=job)
        transaction.on_commit(partial(_dispatch, job.pk))
    return job


def _unfinished(study: Study, kind: str) -> QuerySet[Job]:
    unfinished = [Job.State.QUEUED, Job.State.RUNNING]
    return Job.objects.filter(study=study, kind=kind, state__in=unfinished).order_by("id")


def _interrupted_mark(jobs: list[Job], *, successor: Job) -> None:
    """Stale jobs end as failed; if their worker is still alive, its later writes are ignored."""
    for job in jobs:
        error = f"Interrupted: no progress since {job.updated_at:%Y-%m-%d %H:%M} UTC."
        Job.objects.filter(pk=job.pk, state=job.state).update(
            state=Job.State.FAILED,
            error=f"{error} Started again as job {successor.pk}.",
            message=error[:MESSAGE_MAX],
            finished_at=timezone.now(),
        )


def _params_checked(study: Study, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind not in Job.Kind.values:
        raise JobError(f"There is no job called “{kind}”.")
    unexpected = set(params) - set(PARAM_NAMES.get(kind, ()))
    if unexpected:
        label = Job.Kind(kind).label
        raise JobError(f"{label} takes no {', '.join(sorted(unexpected))}.")
    check = PARAM_CHECKS.get(kind)
    return check(study, params) if check else {}


def _simulate_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    participants = params.get("participants")
    if type(participants) is not int or not 1 <= participants <= MAX_PARTICIPANTS:
        raise JobError(f"Simulate between 1 and {MAX_PARTICIPANTS} participants.")
    if study.state == Study.State.CLOSED:
        raise JobError("This study is closed: simulated participants would join its data.")
    if not study.questions.exists():
        raise JobError("This study has no questions to interview about yet.")
    _llm_required()
    return {"participants": participants}


def _hypotheses_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    _llm_required()
    return {"force": _flag(params, "force")}


def _contexts_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    _llm_required()
    if not study.questions.exists():
        raise JobError("This study has no questions to propose contexts for yet.")
    return {}


def _export_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    include_votes = _flag(params, "include_votes")
    if include_votes and not settings.MGE_EXPORT_SALT:
        raise JobError(
            "Votes can be exported only with a salt to hash rater ids: set MGE_EXPORT_SALT."
        )
    compare_with = _earlier_build(study, params.get("compare_with"))
    return {"include_votes": include_votes} | (
        {"compare_with": compare_with} if compare_with is not None else {}
    )


def _earlier_build(study: Study, pk: Any) -> int | None:
    """The id of a build of ``study`` older than its newest, to compare with; None if unset."""
    if pk is None:
        return None
    builds = GraphBuild.objects.filter(study=study).order_by("-built_at", "-id")
    ids = list(builds.values_list("pk", flat=True))
    if type(pk) is not int or pk not in ids[1:]:
        raise JobError("Compare with an earlier build of this study (not its newest).")
    return pk


def _flag(params: dict[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if not isinstance(value, bool):
        raise JobError(f"“{name}” must be true or false.")
    return value


def _llm_check_params(study: Study, params: dict[str, Any]) -> dict[str, Any]:
    _llm_required()
    return {}


def _llm_required() -> None:
    if not is_configured():
        raise JobError("No language model is configured (set LLM_BASE_URL and LLM_API_KEY).")


PARAM_NAMES = {
    Job.Kind.SIMULATE: ("participants",),
    Job.Kind.HYPOTHESES: ("force",),
    Job.Kind.EXPORT: ("include_votes", "compare_with"),
}
PARAM_CHECKS = {
    Job.Kind.SIMULATE: _simulate_params,
    Job.Kind.HYPOTHESES: _hypotheses_params,
    Job.Kind.CONTEXTS: _contexts_params,
    Job.Kind.EXPORT: _export_params,
    Job.Kind.LLM_CHECK: _llm_check_params,
}


def _dispatch(job_id: int, *, delay: float = 0.0) -> None:
    """Inline (tests: at once), on a thread (eager Celery: no broker), or on a Celery worker."""
    if settings.MGE_JOBS_INLINE:
        job_run(job_id=job_id)
    elif settings.CELERY_TASK_ALWAYS_EAGER:
        timer = threading.Timer(delay, _run_on_thread, args=(job_id,))
        timer.name, timer.daemon = f"job-{job_id}", True
        timer.start()
    else:
        _enqueue(job_id, delay=delay)


def _run_on_thread(job_id: int) -> None:
    try:
        job_run(job_id=job_id)
    finally:
        connection.close()


def _enqueue(job_id: int, *, delay: float = 0.0) -> None:
    task = current_app.tasks[JOB_TASK]  # by name: dashboard.tasks imports this module
    try:
        sent = task.apply_async((job_id,), countdown=delay or None)
    except Exception as error:  # a broker that is down must not leave the job queued forever
        logger.exception("Job %s could not be queued", job_id)
        _finish(job_id, state=Job.State.FAILED, error=f"Could not queue the job: {error}")
        return
    Job.objects.filter(pk=job_id).update(task_id=sent.id)


# --- running ---


def job_run(*, job_id: int) -> Job | None:
    """Run a queued job (or a running one gone stale) to its end; None if not claimed.

    A finished job, or one running elsewhere, is left alone. A model that is unavailable
    sends the job back to the queue for a later attempt, up to MGE_JOB_MAX_ATTEMPTS; any other
    error ends the job as failed with a short readable `error`; the traceback goes to the log.
    """
    if not _claim(job_id):
        logger.info("Job %s not claimed: finished, missing or running elsewhere.", job_id)
        return None
    job = Job.objects.select_related("study").get(pk=job_id)
    progress = ProgressWriter(job.pk)
    try:
        result, message = RUNNERS[job.kind](job, progress)
    except LLMUnavailable as error:
        logger.warning("Job %s (%s), attempt %s: %s", job.pk, job.kind, job.attempts, error)
        if not _retry_later(job, progress):
            _finish(job.pk, state=Job.State.FAILED, error=_readable(error), progress=progress)
    except Exception as error:  # the job records it; the caller (worker, thread) goes on
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        _finish(job.pk, state=Job.State.FAILED, error=_readable(error), progress=progress)
    else:
        _finish(job.pk, state=Job.State.DONE, result=result, message=message, progress=progress)
    job.refresh_from_db()
    return job


def _claim(job_id: int) -> bool:
    """QUEUED (or stale RUNNING) -> RUNNING in one conditional UPDATE: one runner wins."""
    now = timezone.now()
    claimable = Q(state=Job.State.QUEUED) | Q(state=Job.State.RUNNING, updated_at__lt=_stale(now))
    return bool(
        Job.objects.filter(claimable, pk=job_id).update(
            state=Job.State.RUNNING,
            started_at=now,
            updated_at=now,
            progress_done=0,
            progress_total=0,
            message="Started.",
            error="",
            attempts=F("attempts") + 1,
        )
    )


def _retry_later(job: Job, progress: "ProgressWriter") -> bool:
    """Queue the job again after a backoff; False when its attempts are spent."""
    most = settings.MGE_JOB_MAX_ATTEMPTS
    if job.attempts >= most:
        return False
    delay = retry_delay(job.attempts)
    message = (
        f"The model is unavailable; trying again in {delay:.0f} s "
        f"(attempt {job.attempts + 1} of {most})."
    )
    requeued = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
        state=Job.State.QUEUED,
        message=message,
        progress_done=progress.done,
        progress_total=progress.total,
        updated_at=timezone.now(),
    )
    if requeued:  # not when marked interrupted meanwhile
        _dispatch(job.pk, delay=delay)
    return True


def retry_delay(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds before the attempt after `attempt`: between half and all of
    MGE_JOB_RETRY_SECONDS * 2**(attempt - 1), so jobs that failed together spread out.
    """
    ceiling = settings.MGE_JOB_RETRY_SECONDS * 2 ** (attempt - 1)
    return ceiling * (1 + rng()) / 2


def job_recheck_seconds(*, job_id: int) -> float | None:
    """For a job that was not claimed because it runs elsewhere: seconds until it would count
    as stale (and be claimable), so a message returned after a worker died can look again.
    None when the job is finished, queued or gone: nothing to wait for."""
    job = Job.objects.filter(pk=job_id, state=Job.State.RUNNING).only("updated_at").first()
    if job is None:
        return None
    left = (_stale(timezone.now()) - job.updated_at).total_seconds()
    return max(0.0, -left) + RECHECK_MARGIN_SECONDS


def _stale(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.MGE_JOB_STALE_SECONDS)


def _finish(
    job_id: int,
    *,
    state: str,
    progress: "ProgressWriter | None" = None,
    error: str = "",
    message: str = "",
    result: Any = None,
) -> None:
    """The end of a running job; a job marked interrupted meanwhile keeps that ending."""
    now = timezone.now()
    fields: dict[str, Any] = {"state": state, "finished_at": now, "updated_at": now}
    fields |= {"result": result, "error": error[:ERROR_MAX]}
    fields["message"] = (message or (f"Failed: {error}" if error else ""))[:MESSAGE_MAX]
    if progress is not None:
        fields |= {"progress_done": progress.done, "progress_total": progress.total}
    unfinished = [Job.State.QUEUED, Job.State.RUNNING]
    Job.objects.filter(pk=job_id, state__in=unfinished).update(**fields)


def _readable(error: Exception) -> str:
    text = str(error).strip()
    name = type(error).__name__
    return f"{name}: {text}" if text else name


class ProgressWriter:
    """The `progress(done, total, message)` a job's work calls; writes it to the job's row.

    Writes at most every PROGRESS_EVERY_SECONDS, and always when done reaches total; the
    latest report is also written when the job finishes. Thread-safe.
    """

    def __init__(self, job_id: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.job_id, self.clock = job_id, clock
        self.done = self.total = 0
        self.written_at: float | None = None
        self.lock = threading.Lock()

    def __call__(self, done: int, total: int, message: str = "") -> None:
        with self.lock:
            self.done, self.total = done, total
            now = self.clock()
            due = self.written_at is None or now - self.written_at >= PROGRESS_EVERY_SECONDS
            if not (due or done >= total):
                return
            self.written_at = now
        if not (connection.in_atomic_block and self._written_apart(done, total, message)):
            self._write(done, total, message)

    def _write(self, done: int, total: int, message: str) -> int:
        return Job.objects.filter(pk=self.job_id, state=Job.State.RUNNING).update(
            progress_done=done,
            progress_total=total,
            message=message[:MESSAGE_MAX],
            updated_at=timezone.now(),
        )

    def _written_apart(self, done: int, total: int, message: str) -> bool:
        """Inside the work's own transaction (a graph build writing its sections) the row
        would change only when that commits: write it on a connection of its own. False
        where that cannot be done (SQLite has one writer; the row is not committed yet)."""
        if connection.vendor == "sqlite":
            return False
        written: list[int] = []

        def write() -> None:
            try:
                written.append(self._write(done, total, message))
            finally:
                connection.close()

        writer = threading.Thread(target=write, name=f"job-{self.job_id}-progress")
        writer.start()
        writer.join()
        return bool(written and written[0])
