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

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def db(func: Callable[..., Any]) -> Callable[..., Any]:
    return database_sync_to_async(func, thread_sensitive=False, executor=_orm_pool())


def _orm_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=settings.MGE_DB_THREADS, thread_name_prefix="orm"
            )
        return _pool
