"""ORM calls from async code.

Each call is self-contained (no transaction spans two calls), so they may run on any worker
thread: `thread_sensitive=True` would queue every socket's queries behind one thread.
"""

from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async


def db(func: Callable[..., Any]) -> Callable[..., Any]:
    return database_sync_to_async(func, thread_sensitive=False)
