"""Light rate limits for page submissions, counted in the cache per key and minute.

A fixed one-minute window: cheap, shared by every process that shares the cache, and lenient
at a window's edge (up to twice the rate across it), which is enough to stop a runaway client.
While the cache (Redis in production) is unreachable nothing is counted and everything passes:
a Redis restart must not refuse every participant's message, and the study's spending caps,
kept in the database, still hold.
"""

import logging
import time

from django.core.cache import cache
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


def allow(key: str, *, per_minute: int, clock=time.time) -> bool:
    """Count one more action for `key`; False once it passed `per_minute` in this minute."""
    window = f"throttle:{key}:{int(clock() // 60)}"
    try:
        return _window_count(window) <= max(per_minute, 1)
    except RedisError:
        log.warning("%s rate not counted: the cache is unreachable", key.split(":")[0])
        return True


def _window_count(window: str) -> int:
    cache.add(window, 0, timeout=120)
    try:
        count = cache.incr(window)
    except ValueError:  # expired between add and incr
        cache.set(window, 1, timeout=120)
        count = 1
    return count
