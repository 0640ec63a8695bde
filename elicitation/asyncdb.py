"""ORM calls from async code, on a small pool of threads of their own.

Each call is self-contained (no transaction spans two calls), so any pool thread may run it.
The pool is small on purpose (setting MGE_DB_THREADS): threads beyond the cores fight the event
loop for the GIL, and in bench/interview_relay.py at 1,000 sessions six threads gave a token
relay p50 of ~230 ms against ~90 ms for one or two.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

_pools: dict[str, ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()


def db(func: Callable[..., Any]) -> Callable[..., Any]:
    """For the interview socket's reads and writes (the hot path)."""
    pool = _orm_pool("orm", settings.MGE_DB_THREADS)
    return database_sync_to_async(func, thread_sensitive=False, executor=pool)


def db_aside(func: Callable[..., Any]) -> Callable[..., Any]:
    """For background readers (the dashboard's polling): one thread of their own, so they
    never queue in front of a participant's message."""
    pool = _orm_pool("orm-aside", 1)
    return database_sync_to_async(func, thread_sensitive=False, executor=pool)


def _orm_pool(name: str, threads: int) -> ThreadPoolExecutor:
    with _pool_lock:
        if name not in _pools:
            _pools[name] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        return _pools[name]
