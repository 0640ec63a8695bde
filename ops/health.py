"""Readiness checks: can this process serve a participant right now?

Each check returns None when healthy, else a short reason that is safe to show to a probe (no
host names or passwords: probes and their answers end up in logs).
"""

from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

REDIS_TIMEOUT_SECONDS = 1.0
NOT_CONFIGURED = "not configured"
_migrations_known_applied = False


def database_problem() -> str | None:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"
        connections[DEFAULT_DB_ALIAS].close_if_unusable_or_obsolete()
        return f"database unreachable ({type(exc).__name__})"
    return None


def redis_problem() -> str | None:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"redis unreachable ({type(exc).__name__})"
    finally:
        client.close()
    return None


def migrations_problem() -> str | None:
    """Unapplied migrations mean this code expects tables that are not there yet.

    Once every migration is applied the answer is remembered: building the migration graph on
    every probe would cost more than the rest of the probe together.
    """
    global _migrations_known_applied
    if _migrations_known_applied:
        return None
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return f"migrations unknown ({type(exc).__name__})"
    if plan:
        return f"{len(plan)} migrations not applied"
    _migrations_known_applied = True
    return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": database_problem,
    "redis": redis_problem,
    "migrations": migrations_problem,
}


def readiness() -> dict[str, str]:
    """Run every check in order; a failed database makes the migrations check moot."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database") != "ok":
            results[name] = "skipped"
            continue
        if name == "redis" and not settings.REDIS_URL:
            results[name] = NOT_CONFIGURED
            continue
        results[name] = check() or "ok"
    return results


def is_ready(results: dict[str, str]) -> bool:
    return all(value in ("ok", NOT_CONFIGURED) for value in results.values())
