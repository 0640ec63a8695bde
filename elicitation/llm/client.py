"""The one door to the language model: the only module that imports `openai`.

`stream_chat` (async, streamed, for the interview) and `chat` (sync, for tasks and commands) share
one policy: refuse when the study's token budget is spent, retry transient failures with
exponential backoff and full jitter, translate SDK errors into `errors.LLMError`s, and write
exactly one LLMCall row per call, whether it succeeds or fails.
"""

import asyncio
import json
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

import openai
from django.conf import settings
from django.db import transaction
from django.db.models import F

from elicitation.asyncdb import db
from elicitation.costcaps import study_cap_check
from elicitation.models import LLMCall, Study
from ops.metrics import llm_call_observe

from .errors import (
    LLMError,
    LLMNotConfigured,
    LLMRequestRejected,
    LLMStreamInterrupted,
    LLMUnavailable,
)

PLACEHOLDER_API_KEY = "not-needed"  # local servers (Ollama, vLLM) ignore the key
MAX_BACKOFF_SECONDS = 10.0
POOL_SHARDS = 16
TRANSIENT_STATUSES = {408, 429}
MICRODOLLARS = Decimal("0.000001")

TextCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class CallTag:
    purpose: str
    prompt_name: str
    prompt_version: str
    study_id: int | None = None
    interview_id: int | None = None
    model: str | None = None  # None: settings.LLM_MODEL


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model produced it


@dataclass
class ChatResult:
    text: str
    tool_calls: list[ToolCall]
    model: str
    tokens_in: int
    tokens_out: int
    finish_reason: str | None
    llm_call_id: int | None


def is_configured() -> bool:
    return bool(settings.LLM_BASE_URL or settings.LLM_API_KEY)


def endpoint_url() -> str:
    """The configured endpoint as stored with its capabilities ("" for OpenAI's default)."""
    return settings.LLM_BASE_URL or ""


async def stream_chat(
    messages: list[dict],
    *,
    tag: CallTag,
    tools: list[dict] | None = None,
    tool_choice: str | None = None,
    response_format: dict | None = None,
    max_tokens: int | None = None,
    retry: bool = True,
    on_text: TextCallback | None = None,
) -> ChatResult:
    """Stream a reply, awaiting `on_text(delta)` for each piece of text as it arrives.

    Failures are retried only until text has reached `on_text`; after that a broken stream
    raises LLMStreamInterrupted carrying the partial text, for the caller to keep. A stream
    that sends nothing for LLM_STREAM_IDLE_SECONDS, or runs past LLM_STREAM_TOTAL_SECONDS,
    counts as a failure. `tool_choice` names a tool to force; otherwise tools are "auto".
    `retry=False` makes one attempt only (capability probes).
    """
    call = _Call(tag, retry=retry)
    try:
        _require_configuration()
        if tag.study_id is not None:
            await db(_check_budget)(tag.study_id)
        client = _async_client(_client_options(), shard=tag.interview_id or 0)
        request = _request(
            messages,
            call.model,
            tools,
            tool_choice,
            response_format=response_format,
            max_tokens=max_tokens,
            stream=True,
        )
        request["timeout"] = _stream_http_timeout()
        request["stream_options"] = {"include_usage": True}
        result = await _stream_with_retries(client, request, on_text, call)
    except BaseException as exc:
        # Shielded so that a cancelled interview turn still leaves its row behind.
        call_id = await asyncio.shield(db(_record)(call, exc))
        if isinstance(exc, LLMError):
            exc.llm_call_id = call_id
        raise
    result.llm_call_id = await db(_record)(call, None)
    return result


def chat(
    messages: list[dict],
    *,
    tag: CallTag,
    tools: list[dict] | None = None,
    tool_choice: str | None = None,
    response_format: dict | None = None,
    max_tokens: int | None = None,
    retry: bool = True,
) -> ChatResult:
    """Ask for a whole reply at once (Celery tasks, commands); same retries and records.

    `tool_choice` names a tool the model must call; with tools and no name, it is "auto".
    """
    call = _Call(tag, retry=retry)
    try:
        _require_configuration()
        if tag.study_id is not None:
            _check_budget(tag.study_id)
        client = _sync_client(*_client_options())
        request = _request(
            messages,
            call.model,
            tools,
            tool_choice,
            response_format=response_format,
            max_tokens=max_tokens,
        )
        result = _chat_with_retries(client, request, call)
    except BaseException as exc:
        call_id = _record(call, exc)
        if isinstance(exc, LLMError):
            exc.llm_call_id = call_id
        raise
    result.llm_call_id = _record(call, None)
    return result


@dataclass(frozen=True)
class ModerationResult:
    flagged: bool
    categories: tuple[str, ...]  # the categories the endpoint flagged
    model: str


def moderate(text: str, *, tag: CallTag) -> ModerationResult:
    """Ask an OpenAI-compatible moderation endpoint about ``text`` (model: ``tag.model``);
    same retries, errors and LLMCall row as :func:`chat`."""
    call = _Call(tag)
    try:
        _require_configuration()
        client = _sync_client(*_client_options())
        result = _moderate_with_retries(client, {"model": call.model, "input": text}, call)
    except BaseException as exc:
        call_id = _record(call, exc)
        if isinstance(exc, LLMError):
            exc.llm_call_id = call_id
        raise
    _record(call, None)
    return result


def _moderate_with_retries(client: openai.OpenAI, request: dict, call: "_Call") -> ModerationResult:
    while True:
        call.attempts += 1
        try:
            response = client.moderations.create(**request)
        except openai.APIError as exc:
            error = _translate(exc, call.attempts)
            delay = _retry_delay(error, exc, call.attempts)
            if delay is None:
                raise error from exc
            time.sleep(delay)
        else:
            return _moderation_result(response, call.model)


def _moderation_result(response: Any, model: str) -> ModerationResult:
    results = list(getattr(response, "results", None) or [])
    if not results:
        raise LLMRequestRejected("The moderation endpoint answered with no result.")
    flagged = any(bool(r.flagged) for r in results)
    categories = sorted(
        {
            name
            for r in results
            for name, on in (r.categories.model_dump(by_alias=True) or {}).items()
            if on
        }
    )
    return ModerationResult(flagged, tuple(categories), getattr(response, "model", "") or model)


# --- one logical call ---


@dataclass
class _Call:
    """What one logical call did so far; becomes its LLMCall row."""

    tag: CallTag
    retry: bool = True
    model: str = ""
    attempts: int = 0
    tokens: tuple[int, int] = (0, 0)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.model = self.tag.model or settings.LLM_MODEL


def _require_configuration() -> None:
    if not is_configured():
        raise LLMNotConfigured("Set LLM_BASE_URL and/or LLM_API_KEY (or OPENAI_API_KEY).")


def _check_budget(study_id: int) -> None:
    study_cap_check(study_id)


def _record(call: _Call, error: BaseException | None) -> int:
    tokens_in, tokens_out = call.tokens
    with transaction.atomic():
        row = _record_row(call, error, tokens_in, tokens_out)
        if call.tag.study_id is not None and tokens_in + tokens_out:
            Study.objects.filter(pk=call.tag.study_id).update(
                tokens_spent=F("tokens_spent") + tokens_in + tokens_out
            )
    llm_call_observe(
        purpose=call.tag.purpose,
        seconds=row.latency_ms / 1000,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost_usd=float(row.cost_usd or 0),  # no price set: no spend counted
        error=_error_text(error).split(":", 1)[0],
    )
    return row.pk


def _record_row(
    call: _Call, error: BaseException | None, tokens_in: int, tokens_out: int
) -> LLMCall:
    return LLMCall.objects.create(
        study_id=call.tag.study_id,
        interview_id=call.tag.interview_id,
        purpose=call.tag.purpose,
        model=call.model,
        prompt_name=call.tag.prompt_name,
        prompt_version=call.tag.prompt_version,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        latency_ms=round((time.monotonic() - call.started) * 1000),
        cost_usd=call_cost(call.model, tokens_in, tokens_out),
        attempts=call.attempts,
        error=_error_text(error),
    )


def call_cost(model: str, tokens_in: int, tokens_out: int) -> Decimal | None:
    """USD from the LLM_PRICES table; None for a model without a price (never a guess)."""
    prices = settings.LLM_PRICES.get(model)
    if prices is None:
        return None
    price_in, price_out = (Decimal(str(price)) for price in prices)
    cost = (tokens_in * price_in + tokens_out * price_out) / 1_000_000
    return cost.quantize(MICRODOLLARS)


def _error_text(error: BaseException | None) -> str:
    if error is None:
        return ""
    if isinstance(error, LLMError):
        return f"{error.code}: {error}"
    if isinstance(error, asyncio.CancelledError):
        return "cancelled: the caller stopped waiting"
    return f"{type(error).__name__}: {error}"


# --- clients ---


def _client_options() -> tuple[str | None, str, float]:
    api_key = settings.LLM_API_KEY or PLACEHOLDER_API_KEY
    return settings.LLM_BASE_URL or None, api_key, float(settings.LLM_TIMEOUT_SECONDS)


@lru_cache(maxsize=16)
def _sync_client(base_url: str | None, api_key: str, timeout: float) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)


# An async client's connection pool belongs to the event loop it was first used on.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict] = (
    weakref.WeakKeyDictionary()
)


def _async_client(options: tuple[str | None, str, float], shard: int = 0) -> openai.AsyncOpenAI:
    """One client per loop, options and shard.

    Streams are spread over POOL_SHARDS connection pools because the HTTP pool checks every
    pooled connection (a socket poll each) whenever a request starts or ends: with one pool
    that cost grows with the square of the number of concurrent interviews.
    """
    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    key = (options, shard % POOL_SHARDS)
    if key not in per_loop:
        base_url, api_key, timeout = options
        per_loop[key] = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0
        )
    return per_loop[key]


def _request(
    messages: list[dict],
    model: str,
    tools: list[dict] | None,
    tool_choice: str | None,
    **extra: Any,
) -> dict:
    request = {"model": model, "messages": messages}
    request |= {name: value for name, value in extra.items() if value is not None}
    request.setdefault("max_tokens", settings.LLM_MAX_OUTPUT_TOKENS)
    if tools:
        # Sent explicitly: some servers (llama-cpp-python's function-calling chat format) drop
        # the tools when tool_choice is absent.
        request["tools"] = tools
        request["tool_choice"] = forced_tool_choice(tool_choice) if tool_choice else "auto"
    return request


def forced_tool_choice(name: str) -> dict:
    return {"type": "function", "function": {"name": name}}


def _stream_http_timeout() -> float:
    """The HTTP read timeout of a stream: our own idle and total timers fire first."""
    return float(settings.LLM_STREAM_TOTAL_SECONDS) + 5.0


# --- retries ---


class StreamTimedOut(Exception):
    """A stream went quiet for too long, or ran too long in all; retried like a 5xx."""


def _translate(exc: openai.APIError | StreamTimedOut, attempts: int) -> LLMError:
    status = getattr(exc, "status_code", None)
    if status is not None and status not in TRANSIENT_STATUSES and status < 500:
        return LLMRequestRejected(f"The model API refused the request: {exc}")
    return LLMUnavailable(f"The model API failed after {attempts} attempt(s): {exc}")


def _retry_delay(
    error: LLMError, exc: openai.APIError | StreamTimedOut, attempts: int, *, retry: bool = True
) -> float | None:
    """Seconds to wait before the next attempt, or None when retrying cannot help."""
    if not error.retryable or attempts > settings.LLM_MAX_RETRIES or not retry:
        return None
    retry_after = _retry_after_seconds(exc)
    if retry_after is not None:
        return min(retry_after, MAX_BACKOFF_SECONDS)
    ceiling = settings.LLM_RETRY_BASE_SECONDS * 2 ** (attempts - 1)
    return random.uniform(0, min(ceiling, MAX_BACKOFF_SECONDS))


def _retry_after_seconds(exc: openai.APIError | StreamTimedOut) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return max(0.0, float(response.headers[header]) * scale)
        except (KeyError, ValueError):
            continue
    return None  # an HTTP-date Retry-After falls back to our own backoff


def _chat_with_retries(client: openai.OpenAI, request: dict, call: _Call) -> ChatResult:
    while True:
        call.attempts += 1
        try:
            completion = client.chat.completions.create(**request)
        except openai.APIError as exc:
            error = _translate(exc, call.attempts)
            delay = _retry_delay(error, exc, call.attempts, retry=call.retry)
            if delay is None:
                raise error from exc
            time.sleep(delay)
        else:
            return _result_from_completion(completion, request, call)


async def _stream_with_retries(
    client: openai.AsyncOpenAI, request: dict, on_text: TextCallback | None, call: _Call
) -> ChatResult:
    while True:
        call.attempts += 1
        stream = _Stream(request, call.model)
        try:
            await stream.run(client, on_text)
        except (openai.APIError, StreamTimedOut) as exc:
            error = _translate(exc, call.attempts)
            if stream.delivered:
                partial = stream.text()
                message = f"The stream broke after {len(partial)} characters of text: {exc}"
                raise LLMStreamInterrupted(message, partial_text=partial) from exc
            delay = _retry_delay(error, exc, call.attempts, retry=call.retry)
            if delay is None:
                raise error from exc
            await asyncio.sleep(delay)
        else:
            return stream.result()
        finally:
            call.tokens = stream.tokens()


# --- reading responses ---


@dataclass
class _ToolCallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _Stream:
    """One streamed attempt: text and tool-call fragments gathered as they arrive."""

    def __init__(self, request: dict, model: str) -> None:
        self.request = request
        self.model = model
        self.parts: list[str] = []
        self.tool_parts: dict[int, _ToolCallParts] = {}
        self.usage: tuple[int, int] | None = None
        self.finish_reason: str | None = None
        self.received = False
        self.delivered = False

    async def run(self, client: openai.AsyncOpenAI, on_text: TextCallback | None) -> None:
        total = settings.LLM_STREAM_TOTAL_SECONDS
        try:
            async with asyncio.timeout(total):
                await self._read(client, on_text, settings.LLM_STREAM_IDLE_SECONDS)
        except TimeoutError:
            raise StreamTimedOut(f"The reply took longer than {total:g} s in all.") from None

    async def _read(
        self, client: openai.AsyncOpenAI, on_text: TextCallback | None, idle: float
    ) -> None:
        """Read every chunk; a gap of `idle` seconds (the first chunk included) is a failure."""
        try:
            async with asyncio.timeout(idle) as gap:
                chunks = await client.chat.completions.create(**self.request)
                async with chunks:
                    async for chunk in chunks:
                        gap.reschedule(asyncio.get_running_loop().time() + idle)
                        await self._chunk(chunk, on_text)
        except TimeoutError:
            raise StreamTimedOut(f"No part of the reply arrived for {idle:g} s.") from None

    async def _chunk(self, chunk: Any, on_text: TextCallback | None) -> None:
        self.received = True
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        for choice in chunk.choices:
            await self._take(choice, on_text)

    async def _take(self, choice: Any, on_text: TextCallback | None) -> None:
        self.finish_reason = choice.finish_reason or self.finish_reason
        for delta in choice.delta.tool_calls or []:
            parts = self.tool_parts.setdefault(delta.index, _ToolCallParts())
            parts.id = parts.id or delta.id or ""
            if delta.function is not None:
                parts.name = parts.name or delta.function.name or ""
                parts.arguments.append(delta.function.arguments or "")
        if choice.delta.content:
            self.parts.append(choice.delta.content)
            if on_text is not None:
                self.delivered = True
                await on_text(choice.delta.content)

    def text(self) -> str:
        return "".join(self.parts)

    def tool_calls(self) -> list[ToolCall]:
        ordered = sorted(self.tool_parts.items())
        return [ToolCall(p.id, p.name, "".join(p.arguments)) for _, p in ordered]

    def tokens(self) -> tuple[int, int]:
        if self.usage is not None:
            return self.usage
        if not self.received:
            return 0, 0
        # Some OpenAI-compatible servers ignore stream_options and never report usage; an
        # estimate keeps the study's budget and spend meaningful where 0 would hide the cost.
        produced = self.text() + "".join("".join(p.arguments) for p in self.tool_parts.values())
        return _estimate_tokens(self.request), len(produced) // 4

    def result(self) -> ChatResult:
        tokens_in, tokens_out = self.tokens()
        return ChatResult(
            text=self.text(),
            tool_calls=self.tool_calls(),
            model=self.model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            finish_reason=self.finish_reason,
            llm_call_id=None,
        )


def _result_from_completion(completion: Any, request: dict, call: _Call) -> ChatResult:
    choice = completion.choices[0] if completion.choices else None
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None) or ""
    tool_calls = [
        ToolCall(tc.id, tc.function.name, tc.function.arguments)
        for tc in getattr(message, "tool_calls", None) or []
        if getattr(tc, "function", None) is not None  # skip non-function (custom) tool calls
    ]
    usage = completion.usage
    if usage is not None:
        call.tokens = (usage.prompt_tokens, usage.completion_tokens)
    else:
        call.tokens = (_estimate_tokens(request), len(text) // 4)
    return ChatResult(
        text=text,
        tool_calls=tool_calls,
        model=completion.model or call.model,
        tokens_in=call.tokens[0],
        tokens_out=call.tokens[1],
        finish_reason=getattr(choice, "finish_reason", None),
        llm_call_id=None,
    )


def _estimate_tokens(request: dict) -> int:
    return len(json.dumps(request["messages"])) // 4
