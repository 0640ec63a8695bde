"""Light rate limits for page submissions, counted in the cache per key and minute.

A fixed one-minute window: cheap, shared by every process that shares the cache, and lenient
at a window's edge (up to twice the rate across it), which is enough to stop a runaway client.
"""

import time

from django.core.cache import cache


def allow(key: str, *, per_minute: int, clock=time.time) -> bool:
    """Count one more action for `key`; False once it passed `per_minute` in this minute."""
    window = f"throttle:{key}:{int(clock() // 60)}"
    cache.add(window, 0, timeout=120)
    try:
        count = cache.incr(window)
    except ValueError:  # expired between add and incr
        cache.set(window, 1, timeout=120)
        count = 1
    return count <= max(per_minute, 1)
