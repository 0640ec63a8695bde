"""Loaded into a test's Celery worker (`celery worker --include tests.worker_support`).

Every dashboard job then writes "start <pid>" to the file MGE_TEST_JOB_LOG, waits
MGE_TEST_JOB_SLEEP seconds (time to kill its worker), does its real work and writes "end <pid>".
"""

import os
import time

from dashboard import job_kinds


def _logged(runner: job_kinds.Runner) -> job_kinds.Runner:
    def run(job, progress):
        _log("start")
        time.sleep(float(os.environ.get("MGE_TEST_JOB_SLEEP", "0")))
        outcome = runner(job, progress)
        _log("end")
        return outcome

    return run


def _log(event: str) -> None:
    with open(os.environ["MGE_TEST_JOB_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{event} {os.getpid()}\n")


job_kinds.RUNNERS.update({kind: _logged(runner) for kind, runner in job_kinds.RUNNERS.items()})
