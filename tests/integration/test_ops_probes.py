"""/healthz, /readyz and /metrics: answered for probes, honest about what is down."""

import json
import logging

import pytest
from django.db import OperationalError, connections
from django.db.migrations.executor import MigrationExecutor

from elicitation.llm.client import CallTag, chat
from ops import health
from ops.logcontext import ContextFilter, LogFormatter
from tests.fakes.openai_server import Error, Reply

PROBE_HOST = "10.1.2.3:8000"  # a pod address, in no ALLOWED_HOSTS


@pytest.fixture
def production_like(settings):
    settings.ALLOWED_HOSTS = ["mge.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    settings.REDIS_URL = None
    return settings


@pytest.fixture
def fresh_migrations_check(monkeypatch):
    monkeypatch.setattr(health, "_migrations_known_applied", False)


def test_healthz_answers_a_probe_over_plain_http_from_any_host(client, production_like):
    response = client.get("/healthz", HTTP_HOST=PROBE_HOST)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_each_check_when_all_is_well(
    client, production_like, fresh_migrations_check
):
    response = client.get("/readyz", HTTP_HOST=PROBE_HOST)

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not configured", "migrations": "ok"},
    }


@pytest.mark.django_db
def test_readyz_is_unavailable_while_the_database_refuses_connections(
    client, production_like, monkeypatch
):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    # On the class: the probe runs on a thread of its own, with a connection of its own.
    monkeypatch.setattr(type(connections["default"]), "cursor", refuse)

    response = client.get("/readyz", HTTP_HOST=PROBE_HOST)

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "database unreachable (OperationalError)"
    assert response.json()["checks"]["migrations"] == "skipped"


@pytest.mark.django_db
def test_readyz_is_unavailable_while_redis_is_unreachable(client, production_like):
    production_like.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/readyz", HTTP_HOST=PROBE_HOST)

    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "redis unreachable (ConnectionError)"


@pytest.mark.django_db
def test_readyz_is_unavailable_until_migrations_are_applied(
    client, production_like, fresh_migrations_check, monkeypatch
):
    real_plan = MigrationExecutor.migration_plan
    monkeypatch.setattr(
        MigrationExecutor,
        "migration_plan",
        lambda self, targets: [*real_plan(self, targets), ("pending", False)],
    )

    response = client.get("/readyz", HTTP_HOST=PROBE_HOST)

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "1 migrations not applied"


def test_metrics_are_refused_without_the_token(client, settings):
    settings.MGE_METRICS_TOKEN = "scrape-token-123"

    assert client.get("/metrics", HTTP_HOST=PROBE_HOST).status_code == 403
    wrong = client.get("/metrics", HTTP_HOST=PROBE_HOST, HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_metrics_count_llm_tokens_spend_and_errors(client, settings, fake_llm, llm_settings):
    settings.MGE_METRICS_TOKEN = "scrape-token-123"
    tag = CallTag(purpose="metrics_probe", prompt_name="p", prompt_version="1")
    fake_llm.script(Reply("Hello there, how are you?"), *[Error(400)] * 3)
    chat([{"role": "user", "content": "hi"}], tag=tag)
    with pytest.raises(Exception):  # noqa: B017 - the kind is the client's business
        chat([{"role": "user", "content": "hi"}], tag=tag)

    response = client.get(
        "/metrics", HTTP_HOST=PROBE_HOST, HTTP_AUTHORIZATION="Bearer scrape-token-123"
    )

    text = response.content.decode()
    assert response.status_code == 200
    out_tokens = _sample(text, 'mge_llm_tokens_total{direction="out",purpose="metrics_probe"}')
    assert out_tokens > 0
    assert _sample(text, 'mge_llm_spend_usd_total{purpose="metrics_probe"}') > 0
    assert _sample(text, 'mge_llm_errors_total{code="llm_rejected",purpose="metrics_probe"}') == 1
    assert 'mge_llm_call_seconds_count{outcome="ok",purpose="metrics_probe"} 1.0' in text


def test_each_response_carries_a_request_id_and_a_hostile_one_is_replaced(client):
    kept = client.get("/healthz-nope", HTTP_X_REQUEST_ID="abcdef0123456789")
    replaced = client.get("/healthz-nope", HTTP_X_REQUEST_ID='x"} {"level": "forged')

    assert kept["X-Request-ID"] == "abcdef0123456789"
    assert len(replaced["X-Request-ID"]) == 32
    assert '"' not in replaced["X-Request-ID"]


def test_json_log_lines_carry_the_request_and_interview_ids():
    from ops.logcontext import interview_id_var, request_id_var

    record = logging.LogRecord("mge", logging.WARNING, __file__, 1, "turn failed", None, None)
    request_token = request_id_var.set("req-12345678")
    interview_token = interview_id_var.set(42)
    try:
        ContextFilter().filter(record)
    finally:
        request_id_var.reset(request_token)
        interview_id_var.reset(interview_token)

    line = json.loads(LogFormatter().format(record))
    assert line["message"] == "turn failed"
    assert line["level"] == "WARNING"
    assert (line["request_id"], line["interview_id"]) == ("req-12345678", 42)


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name}")
