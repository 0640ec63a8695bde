"""kill -9 the Celery worker in the middle of a job: a new worker finishes it."""

import asyncio

from tests.topology.clients import job_start, job_state, participants_create, until


async def test_killing_the_worker_mid_job_still_completes_the_job(full_stack, llm):
    stack = full_stack
    llm.token_delay = 0.05  # a simulated participant takes seconds
    participants_create(stack, 1, "worker-kill")
    job_id = job_start(stack, "worker-kill", "simulate", {"participants": 3})
    await until(lambda: job_state(stack, job_id)[0] == "running", timeout=60, every=0.2)
    await asyncio.sleep(1)

    stack.kill("worker")
    assert job_state(stack, job_id)[0] == "running"
    stack.worker_start()
    await until(lambda: job_state(stack, job_id)[0] in ("done", "failed"), timeout=180, every=0.5)

    state, done = job_state(stack, job_id)
    assert (state, done) == ("done", 3)
