"""Probes and request ids, answered before any other middleware.

Probes come from kubelets, compose and nginx with a pod or container address for a host and
over plain HTTP, so they must be answered before ALLOWED_HOSTS and SECURE_SSL_REDIRECT would
turn them away.
"""

import hmac

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_prometheus.exports import ExportToDjangoView

from elicitation.asyncdb import db_aside

from . import health
from .logcontext import request_id_from, request_id_var

REQUEST_ID_HEADER = "X-Request-ID"


def healthz() -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz() -> HttpResponse:
    results = health.readiness()
    ready = health.is_ready(results)
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status=200 if ready else 503,
    )


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text; with MGE_METRICS_TOKEN set, only for `Authorization: Bearer <token>`."""
    token = settings.MGE_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return ExportToDjangoView(request)


class OpsMiddleware:
    """Answers /healthz, /readyz and /metrics; tags every other request with an id."""

    async_capable = True
    sync_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return healthz()
        if request.path == "/readyz":
            # On the background readers' thread: a probe never queues before a participant.
            return await db_aside(readyz)()
        if request.path == "/metrics":
            return metrics(request)
        request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        request_id_var.set(request_id)
        response = await self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
