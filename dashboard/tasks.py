"""Dashboard jobs on a Celery worker. Thin: the runner claims the job's row first, so a message
delivered twice (late acknowledgement, a worker restart) runs the job once.
"""

from celery import shared_task

from elicitation.models import Study

from . import cadence, jobs


# Longer than the default limit: a pilot of many participants takes a while, and it stays under
# the broker's visibility timeout (an hour), so a live job's message is never handed out twice.
@shared_task(soft_time_limit=55 * 60, time_limit=57 * 60)
def job_run(job_id: int) -> str | None:
    """Run one dashboard job; returns the state it ended in (None: not claimed here).

    A message that comes back after its worker died may find the job still marked running but
    not yet stale; it then looks again once the job would be stale, so the job is not left
    running forever.
    """
    job = jobs.job_run(job_id=job_id)
    if job is not None:
        return job.state
    wait = jobs.job_recheck_seconds(job_id=job_id)
    if wait is not None:
        job_run.apply_async((job_id,), countdown=wait)
    return None


@shared_task
def study_refresh_check(study_id: int) -> int | None:
    """Start the study's update if its cadence says it is due; returns the job's id."""
    study = Study.objects.filter(pk=study_id).first()
    job = cadence.study_refresh_if_due(study=study) if study else None
    return job.pk if job else None


@shared_task
def studies_refresh_due() -> int:
    """The periodic check (Celery beat): start every open study's update that is due."""
    started = [cadence.study_refresh_if_due(study=s) for s in cadence.studies_with_cadence()]
    return sum(job is not None for job in started)
