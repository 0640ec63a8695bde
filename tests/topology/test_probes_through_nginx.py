"""What nginx exposes: probes and pages yes, metrics no (they are scraped from each process)."""

import httpx

from tests.topology.stack import METRICS_TOKEN


def test_nginx_answers_probes_and_hides_metrics(full_stack):
    with httpx.Client(verify=False, base_url=full_stack.https) as client:  # noqa: S501
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})

    assert ready == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "migrations": "ok"},
    }
    assert metrics.status_code == 404


def test_each_process_serves_its_metrics_to_the_scraper(full_stack):
    web = httpx.get(
        f"http://127.0.0.1:{full_stack.ports.web0}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
    )
    worker = httpx.get(f"http://127.0.0.1:{full_stack.ports.worker_metrics}/metrics")

    assert web.status_code == 200
    assert "mge_live_interviews" in web.text
    assert "mge_task_seconds" in worker.text or "python_info" in worker.text


def test_a_request_id_from_nginx_reaches_the_response(full_stack):
    with httpx.Client(verify=False, base_url=full_stack.https) as client:  # noqa: S501
        response = client.get("/s/no-such-study/")

    assert len(response.headers["X-Request-ID"]) == 32
