"""A fake OpenAI-compatible server on 127.0.0.1, speaking the real HTTP and SSE wire format.

Runs a small HTTP/1.1 server on its own asyncio loop in a background thread, so it serves sync
tests, async tests, browsers and benchmarks (1,000 concurrent streams) alike. Responses come from
`script(...)` steps in order, then from `responder(request_json) -> Step`.

    with FakeOpenAIServer(token_delay=0.01) as server:
        server.script(Error(429, retry_after=0.1), Reply("Hello there"))
        ...  # point LLM_BASE_URL at server.base_url

Standalone, playing an interviewer that submits a card after three participant messages:
    python -m tests.fakes.openai_server --port 8011 --token-delay 0.02 [--stamp-tokens]
    (--script study: a whole study in varied words, see tests/fakes/study_script.py)
    (--workers N: N processes share the port, for load beyond one Python thread)
"""

import argparse
import asyncio
import json
import multiprocessing
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable
from http import HTTPStatus

from tests.fakes.openai_wire import (
    Completion,
    Disconnect,
    Error,
    Hang,
    Pacer,
    Reply,
    Step,
    ToolCallReply,
    capped,
    error_body,
    estimate_tokens,
    full_message,
    moderation_body,
    new_call_id,
    split_text,
    stamp,
    tool_call_fragment,
    tool_call_start,
)
from tests.fakes.study_script import StudyScript

__all__ = ["Disconnect", "Error", "FakeOpenAIServer", "Hang", "Reply", "ToolCallReply"]

Responder = Callable[[dict], Step]

SAMPLE_CARD = {
    "title": "Grounded Personal Discernment",
    "description": "Helping someone find their own footing by staying close to what they feel.",
    "policies": [
        "FEELINGS of unease that point to something the person has not yet said",
        "MOMENTS when the person speaks about their choice in their own words",
        "OPPORTUNITIES for the person to hear their own reasons out loud",
    ],
    "context": "When the user is facing a hard personal decision",
}
INTERVIEW_QUESTIONS = [
    "Could you tell me about a time you faced something like this, or helped someone who did?",
    "In that moment, what did you notice or pay attention to?",
    "What made that feel important to you, rather than just useful?",
]


def echo_responder(request: dict) -> Step:
    user_messages = [m for m in request.get("messages", []) if m.get("role") == "user"]
    last = str(user_messages[-1].get("content", "")) if user_messages else ""
    return Reply(f"You said: {last[:200]}")


def interviewer_responder(request: dict) -> Step:
    """Play a plausible interviewer: a few questions, then a values card."""
    messages = request.get("messages", [])
    said = sum(1 for m in messages if m.get("role") == "user")
    tool_names = {t.get("function", {}).get("name") for t in request.get("tools") or []}
    if messages and messages[-1].get("role") == "tool":
        return Reply("Here is a card based on what you shared. Please edit anything that is off.")
    if said >= 3 and "submit_values_card" in tool_names:
        text = "Thank you, I think I understand what matters to you here."
        return ToolCallReply("submit_values_card", json.dumps(SAMPLE_CARD), text_before=text)
    return Reply(INTERVIEW_QUESTIONS[min(max(said - 1, 0), len(INTERVIEW_QUESTIONS) - 1)])


class FakeOpenAIServer:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token_delay: float = 0.0,
        stamp_tokens: bool = False,
        responder: Responder = echo_responder,
        reuse_port: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.reuse_port = reuse_port
        self.token_delay = token_delay
        self.stamp_tokens = stamp_tokens
        self.responder = responder
        self.requests: list[dict] = []
        # Moderation: inputs containing any of these words come back flagged; requests kept.
        self.flagged_words: set[str] = set()
        self.moderation_requests: list[dict] = []
        self.moderation_errors: deque[Error] = deque()
        self.request_headers: list[dict[str, str]] = []
        self._steps: deque[Step] = deque()
        self._lock = threading.Lock()
        self._connections: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *steps: Step) -> None:
        with self._lock:
            self._steps.extend(steps)

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self.requests.clear()
            self.request_headers.clear()

    def start(self) -> "FakeOpenAIServer":
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(started,), name="fake-openai", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> "FakeOpenAIServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, started: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        listen = asyncio.start_server(
            self._connection, self.host, self.port, backlog=4096, reuse_port=self.reuse_port
        )
        self._server = self._loop.run_until_complete(listen)
        self.port = self._server.sockets[0].getsockname()[1]
        started.set()
        self._loop.run_forever()

    async def _shutdown(self) -> None:
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    def _next_step(self, request: dict) -> Step:
        with self._lock:
            self.requests.append(request)
            if self._steps:
                return self._steps.popleft()
        return self.responder(request)

    # --- HTTP/1.1 ---

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away
        except asyncio.CancelledError:
            pass  # shutting down; asyncio's stream callback would log a cancelled task
        finally:
            self._connections.discard(task)
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; return whether the connection stays open."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = dict(_header(line) for line in header_lines if ":" in line)
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        keep_alive = headers.get("connection", "").lower() != "close"
        path = path.split("?", 1)[0].rstrip("/")
        if method == "GET" and path.endswith("/models"):
            await _send_json(writer, 200, {"object": "list", "data": [_model_entry()]})
        elif method == "POST" and path.endswith("/moderations"):
            await self._moderate(writer, json.loads(body or b"{}"))
        elif method == "POST" and path.endswith("/chat/completions"):
            with self._lock:
                self.request_headers.append(headers)
            return await self._chat(writer, json.loads(body or b"{}")) and keep_alive
        else:
            await _send_json(writer, 404, {"error": {"message": f"No route {method} {path}"}})
        return keep_alive

    async def _moderate(self, writer: asyncio.StreamWriter, request: dict) -> None:
        with self._lock:
            self.moderation_requests.append(request)
            error = self.moderation_errors.popleft() if self.moderation_errors else None
        if error is not None:
            await _send_json(writer, error.status, error.body or error_body(error.status))
            return
        inputs = request.get("input")
        texts = inputs if isinstance(inputs, list) else [str(inputs or "")]
        model = str(request.get("model", "omni-moderation-latest"))
        await _send_json(writer, 200, moderation_body(model, texts, self.flagged_words))

    async def _chat(self, writer: asyncio.StreamWriter, request: dict) -> bool:
        step = self._next_step(request)
        if isinstance(step, Error):
            extra = {} if step.retry_after is None else {"retry-after": str(step.retry_after)}
            await _send_json(writer, step.status, step.body or error_body(step.status), extra)
            return True
        if isinstance(step, Hang):
            await asyncio.sleep(step.seconds)
            return False
        completion = Completion(str(request.get("model", "fake-model")))
        if isinstance(step, Disconnect):
            await self._stream_then_drop(writer, completion, step)
            return False
        if not request.get("stream"):
            message, finish_reason = full_message(step, request)
            usage = step.usage or (estimate_tokens(request), 1 + len(str(message)) // 4)
            await _send_json(writer, 200, completion.full(message, finish_reason, usage))
            return True
        await self._stream(writer, completion, step, request)
        return True

    # --- streaming ---

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        completion: Completion,
        step: Reply | ToolCallReply,
        request: dict,
    ) -> None:
        await _start_sse(writer)
        await _send_event(writer, completion.chunk({"role": "assistant", "content": ""}))
        text = step.text if isinstance(step, Reply) else step.text_before
        text, finish_reason = capped(text, request)
        pacer = Pacer(self.token_delay)
        pieces = split_text(text, _chunk_chars(step))
        sent = await self._stream_text(writer, completion, pieces, pacer)
        if isinstance(step, ToolCallReply):
            sent += await self._stream_tool_call(writer, completion, step, pacer)
            finish_reason = "tool_calls"
        await _send_event(writer, completion.chunk({}, finish_reason))
        wants_usage = (request.get("stream_options") or {}).get("include_usage")
        if wants_usage and not getattr(step, "omit_usage", False):
            usage = step.usage or (estimate_tokens(request), sent)
            await _send_event(writer, completion.usage_chunk(*usage))
        await _send_raw(writer, b"data: [DONE]\n\n")
        await _send_raw(writer, b"")

    async def _stream_text(
        self, writer: asyncio.StreamWriter, completion: Completion, pieces: list[str], pacer: Pacer
    ) -> int:
        for sequence, piece in enumerate(pieces):
            await pacer.wait()
            content = stamp(piece, sequence) if self.stamp_tokens else piece
            await _send_event(writer, completion.chunk({"content": content}))
        return len(pieces)

    async def _stream_tool_call(
        self,
        writer: asyncio.StreamWriter,
        completion: Completion,
        step: ToolCallReply,
        pacer: Pacer,
    ) -> int:
        await _send_event(writer, completion.chunk(tool_call_start(new_call_id(), step.name)))
        fragments = split_text(step.arguments_json, step.fragment_chars)
        for fragment in fragments:
            await pacer.wait()
            await _send_event(writer, completion.chunk(tool_call_fragment(fragment)))
        return len(fragments)

    async def _stream_then_drop(
        self, writer: asyncio.StreamWriter, completion: Completion, step: Disconnect
    ) -> None:
        await _start_sse(writer)
        await _send_event(writer, completion.chunk({"role": "assistant", "content": ""}))
        pieces = split_text(step.text, None)[: step.after_chunks]
        await self._stream_text(writer, completion, pieces, Pacer(self.token_delay))
        writer.transport.abort()


def _chunk_chars(step: Reply | ToolCallReply) -> int | None:
    return step.chunk_chars if isinstance(step, Reply) else None


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def _model_entry() -> dict:
    return {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}


async def _send_json(
    writer: asyncio.StreamWriter, status: int, payload: dict, extra: dict | None = None
) -> None:
    body = json.dumps(payload).encode()
    headers = {"content-type": "application/json", "content-length": str(len(body))}
    writer.write(_head(status, headers | (extra or {})) + body)
    await writer.drain()


async def _start_sse(writer: asyncio.StreamWriter) -> None:
    headers = {"content-type": "text/event-stream", "transfer-encoding": "chunked"}
    writer.write(_head(200, headers | {"cache-control": "no-cache"}))
    await writer.drain()


async def _send_event(writer: asyncio.StreamWriter, payload: dict) -> None:
    await _send_raw(writer, f"data: {json.dumps(payload)}\n\n".encode())


async def _send_raw(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Send one HTTP chunk; empty data ends the chunked body."""
    writer.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
    await writer.drain()


def _head(status: int, headers: dict[str, str]) -> bytes:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Status"
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible chat server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--token-delay", type=float, default=0.02)
    parser.add_argument("--stamp-tokens", action="store_true")
    parser.add_argument(
        "--script",
        choices=("interviewer", "study"),
        default="interviewer",
        help="interviewer: one card after three messages; study: every part of a whole study",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)"
    )
    args = parser.parse_args()
    options = {
        "host": args.host,
        "port": args.port,
        "token_delay": args.token_delay,
        "stamp_tokens": args.stamp_tokens,
        "reuse_port": args.workers > 1,
        "script": args.script,
    }
    # Exit cleanly on SIGTERM too, so multiprocessing stops the worker processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for _ in range(args.workers - 1):
        multiprocessing.Process(target=serve_forever, args=(options,), daemon=True).start()
    serve_forever(options, announce=True)


def serve_forever(options: dict, announce: bool = False) -> None:
    options = dict(options)
    script = options.pop("script", "interviewer")
    responder = StudyScript() if script == "study" else interviewer_responder
    with FakeOpenAIServer(responder=responder, **options) as server:
        if announce:
            print(f"Fake OpenAI server on {server.base_url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
