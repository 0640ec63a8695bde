"""Script steps for the fake OpenAI server, and the wire objects it sends.

The objects follow OpenAI's chat completions format: `chat.completion` for plain responses and
`chat.completion.chunk` events for streams, which the real `openai` SDK then parses.
"""

import asyncio
import json
import re
import time
from dataclasses import dataclass
from itertools import count

_ids = count(1)
_WORDS = re.compile(r"\s*\S+\s*|\s+")
STAMP = re.compile(r"\[(\d+)@(\d+\.\d+)\]")


@dataclass(frozen=True)
class Reply:
    """Answer with text, streamed in word-sized chunks or `chunk_chars`-sized ones."""

    text: str
    chunk_chars: int | None = None
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens; None: counted
    omit_usage: bool = False  # behave like servers that ignore stream_options


@dataclass(frozen=True)
class ToolCallReply:
    """Call one tool; the arguments stream in fragments after optional text."""

    name: str
    arguments_json: str
    text_before: str = ""
    fragment_chars: int = 7
    usage: tuple[int, int] | None = None


@dataclass(frozen=True)
class Error:
    status: int
    body: dict | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Hang:
    """Accept the request and say nothing for `seconds`, then close the connection."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Disconnect:
    """Stream `after_chunks` content chunks of `text`, then drop the connection."""

    after_chunks: int = 2
    text: str = "I hear that this matters to you, and I would like to"


Step = Reply | ToolCallReply | Error | Hang | Disconnect


def split_text(text: str, chunk_chars: int | None) -> list[str]:
    if chunk_chars:
        return [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    return _WORDS.findall(text)


def stamp(piece: str, sequence: int) -> str:
    """Prefix a chunk with its sequence number and monotonic send time, for benchmarks."""
    return f"[{sequence}@{time.monotonic():.6f}]{piece}"


class Pacer:
    """Spaces a stream's chunks `delay` seconds apart, measured from its first chunk.

    Deadlines are absolute: when a busy event loop delays one chunk, the next ones catch up
    instead of every later chunk drifting, so the stream keeps its token rate.
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.count = 0
        self.started = time.monotonic()

    async def wait(self) -> None:
        if self.delay and self.count:
            deadline = self.started + self.count * self.delay
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        self.count += 1


def parse_stamps(text: str) -> list[tuple[int, float]]:
    return [(int(seq), float(sent)) for seq, sent in STAMP.findall(text)]


def estimate_tokens(request: dict) -> int:
    return max(1, len(json.dumps(request.get("messages", []))) // 4)


class Completion:
    """Builds the objects of one response, sharing its id, model and creation time."""

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-fake{next(_ids)}"
        self.model = model
        self.created = int(time.time())

    def chunk(self, delta: dict, finish_reason: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return self._envelope("chat.completion.chunk", choices=[choice])

    def usage_chunk(self, prompt_tokens: int, completion_tokens: int) -> dict:
        usage = _usage(prompt_tokens, completion_tokens)
        return self._envelope("chat.completion.chunk", choices=[], usage=usage)

    def full(self, message: dict, finish_reason: str, usage: tuple[int, int]) -> dict:
        choice = {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        return self._envelope("chat.completion", choices=[choice], usage=_usage(*usage))

    def _envelope(self, kind: str, **fields: object) -> dict:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            **fields,
        }


def tool_call_start(call_id: str, name: str) -> dict:
    function = {"name": name, "arguments": ""}
    return {"tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": function}]}


def tool_call_fragment(fragment: str) -> dict:
    return {"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}


#: Characters the fake counts as one token when it honours a request's ``max_tokens``.
CHARS_PER_TOKEN = 4


def capped(text: str, request: dict) -> tuple[str, str]:
    """``text`` cut at the request's ``max_tokens`` as a server would, and the finish reason
    ("length" when cut)."""
    limit = request.get("max_tokens") or request.get("max_completion_tokens")
    if limit and len(text) > limit * CHARS_PER_TOKEN:
        return text[: limit * CHARS_PER_TOKEN], "length"
    return text, "stop"


def full_message(step: Reply | ToolCallReply, request: dict) -> tuple[dict, str]:
    if isinstance(step, Reply):
        text, finish_reason = capped(step.text, request)
        return {"role": "assistant", "content": text}, finish_reason
    call = {
        "id": new_call_id(),
        "type": "function",
        "function": {"name": step.name, "arguments": step.arguments_json},
    }
    return {"role": "assistant", "content": step.text_before or None, "tool_calls": [call]}, (
        "tool_calls"
    )


def new_call_id() -> str:
    return f"call_fake{next(_ids)}"


def error_body(status: int) -> dict:
    kind = "rate_limit_exceeded" if status == 429 else "server_error" if status >= 500 else None
    message = f"Fake server error {status}"
    return {"error": {"message": message, "type": kind or "invalid_request_error", "code": kind}}


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


def moderation_body(model: str, texts: list[str], flagged_words: set[str]) -> dict:
    """A /v1/moderations response: a text is flagged for harassment when it holds a word."""
    results = []
    for text in texts:
        flagged = any(word.lower() in str(text).lower() for word in flagged_words)
        categories = {name: flagged and name == "harassment" for name in MODERATION_CATEGORIES}
        scores = {name: 0.97 if on else 0.001 for name, on in categories.items()}
        results.append(
            {
                "flagged": flagged,
                "categories": categories,
                "category_scores": scores,
                "category_applied_input_types": {name: ["text"] for name in categories},
            }
        )
    return {"id": f"modr-fake{next(_ids)}", "model": model, "results": results}
