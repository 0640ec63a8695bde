"""Dashboard jobs on a Celery worker. Thin: the runner claims the job's row first, so a message
delivered twice (late acknowledgement, a worker restart) runs the job once.
"""

from celery import shared_task

from . import jobs


# Longer than the default limit: a pilot of many participants takes a while. Under the broker's
# visibility timeout (an hour) a redelivered message finds the job running and leaves it.
@shared_task(soft_time_limit=55 * 60, time_limit=57 * 60)
def job_run(job_id: int) -> str | None:
    """Run one dashboard job; returns the state it ended in (None: not claimed here)."""
    job = jobs.job_run(job_id=job_id)
    return job.state if job else None
