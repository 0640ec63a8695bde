"""Our Prometheus metrics, beside django-prometheus's request and database ones.

Counters and histograms live in the process that observed them. Celery's prefork children share
theirs through PROMETHEUS_MULTIPROC_DIR (ops/worker.py), where gauges sum over live processes.
"""

from prometheus_client import Counter, Gauge, Histogram

LIVE_INTERVIEWS = Gauge(
    "mge_live_interviews",
    "Interview sockets open in this process.",
    multiprocess_mode="livesum",
)
TURNS_IN_FLIGHT = Gauge(
    "mge_turns_in_flight",
    "Interviewer turns (LLM replies) being streamed by this process.",
    multiprocess_mode="livesum",
)
LLM_LATENCY = Histogram(
    "mge_llm_call_seconds",
    "Wall time of one logical LLM call, retries included.",
    ["purpose", "outcome"],
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120),
)
LLM_ERRORS = Counter(
    "mge_llm_errors_total", "LLM calls that ended in an error, by error code.", ["purpose", "code"]
)
LLM_TOKENS = Counter("mge_llm_tokens_total", "Tokens used, by direction.", ["purpose", "direction"])
LLM_SPEND = Counter("mge_llm_spend_usd_total", "Estimated LLM spend in US dollars.", ["purpose"])
TASK_DURATION = Histogram(
    "mge_task_seconds",
    "Celery task run time, by task and final state.",
    ["task", "state"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)


def llm_call_observe(
    *, purpose: str, seconds: float, tokens_in: int, tokens_out: int, cost_usd: float, error: str
) -> None:
    """Count one finished LLM call; `error` is its error code, or "" when it succeeded."""
    LLM_LATENCY.labels(purpose, "error" if error else "ok").observe(seconds)
    if error:
        LLM_ERRORS.labels(purpose, error).inc()
    LLM_TOKENS.labels(purpose, "in").inc(tokens_in)
    LLM_TOKENS.labels(purpose, "out").inc(tokens_out)
    LLM_SPEND.labels(purpose).inc(cost_usd)
