"""Request and interview ids carried through context variables into every log record.

Context variables follow a request into `sync_to_async` threads and an interview socket into
the tasks it starts, so a log line written deep in a service still says whose it was.
"""

import re
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
interview_id_var: ContextVar[int | None] = ContextVar("interview_id", default=None)

# A proxy's id is kept only when it looks like one; anything else is replaced, so a client
# cannot write arbitrary text into our logs through a header.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_from(header: str | None) -> str:
    if header and _SAFE_REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def bind_interview(interview_id: int) -> None:
    interview_id_var.set(interview_id)


class ContextFilter:
    """Adds request_id and interview_id to each record (empty when there is none)."""

    def filter(self, record) -> bool:
        record.request_id = request_id_var.get()
        record.interview_id = interview_id_var.get()
        return True


class LogFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, ids, and any `extra` fields."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(interview_id)s"
        )
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level"})
        super().__init__(*args, **kwargs)
