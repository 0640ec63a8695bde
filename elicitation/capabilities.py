"""What the configured endpoint + model can do, found by asking it, and stored.

Four small probes, each one request without retries: streaming, tool calls ("auto"), a forced
tool call, and a JSON-schema response format. A feature the server refuses, fails on, or
ignores counts as missing. The interviewer and the card articulation read what was stored;
what was never checked is tried, strongest first.
"""

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from . import services
from .llm.client import CallTag, ChatResult, chat, endpoint_url, stream_chat
from .llm.errors import LLMOutputInvalid, LLMRequestRejected, LLMUnavailable
from .llm.schemas import load_json_object

PROBE_TOOL_NAME = "record_answer"
PROBE_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": PROBE_TOOL_NAME,
        "description": "Record the answer to the question.",
        "parameters": PROBE_SCHEMA,
    },
}
QUESTION = "What colour is the sky on a clear day? Answer in one word."
ASK = [{"role": "user", "content": QUESTION}]
ASK_TOOL = [{"role": "user", "content": f"{QUESTION} Record it with the {PROBE_TOOL_NAME} tool."}]
PROBE_TOKENS = 60
FEATURES = ("streaming", "tools", "forced_tool", "json_schema")


@dataclass
class CheckReport:
    base_url: str
    model: str
    found: dict[str, bool] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        where = self.base_url or "OpenAI"
        rows = [f"{self.model} at {where}:"]
        for name in FEATURES:
            mark = "yes" if self.found.get(name) else "no"
            note = f" ({self.notes[name]})" if self.notes.get(name) else ""
            rows.append(f"  {name}: {mark}{note}")
        return rows


def endpoint_check(
    *, model: str | None = None, study_id: int | None = None, progress: Callable | None = None
) -> CheckReport:
    """Probe the endpoint, store what works, and return it. A plain request is made first:
    when even that fails, its LLMError is raised and nothing is stored."""
    model = model or settings.LLM_MODEL
    tag = CallTag("llm_check", "llm_check", "1", study_id=study_id, model=model)
    chat(ASK, tag=tag, max_tokens=PROBE_TOKENS, retry=False)
    report = CheckReport(endpoint_url(), model)
    for done, name in enumerate(FEATURES, start=1):
        works, note = _probe(PROBES[name], tag)
        report.found[name], report.notes[name] = works, note
        if progress is not None:
            progress(done, len(FEATURES), f"{name}: {'yes' if works else 'no'}")
    services.endpoint_capabilities_save(
        base_url=report.base_url,
        model=model,
        found=dict(report.found),
        notes="\n".join(f"{k}: {v}" for k, v in report.notes.items() if v),
    )
    return report


def _probe(probe: Callable[[CallTag], str], tag: CallTag) -> tuple[bool, str]:
    """(works, why not) for one probe; `probe` returns "" when the feature worked."""
    try:
        problem = probe(tag)
    except (LLMRequestRejected, LLMUnavailable, LLMOutputInvalid) as error:
        return False, f"{error.code}: {str(error)[:200]}"
    return not problem, problem


def _streamed(messages: list[dict], tag: CallTag, **options) -> ChatResult:
    """One streamed request, as the interviewer and the card articulation make theirs: a
    server may do a thing in a single answer and refuse it when streamed."""
    return asyncio.run(
        stream_chat(messages, tag=tag, max_tokens=PROBE_TOKENS, retry=False, **options)
    )


def _streaming(tag: CallTag) -> str:
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    result = _streamed(ASK, tag, on_text=on_text)
    return "" if pieces and result.text else "no text was streamed"


def _tools(tag: CallTag) -> str:
    return _tool_problem(_streamed(ASK_TOOL, tag, tools=[PROBE_TOOL]))


def _forced_tool(tag: CallTag) -> str:
    return _tool_problem(_streamed(ASK, tag, tools=[PROBE_TOOL], tool_choice=PROBE_TOOL_NAME))


def _json_schema(tag: CallTag) -> str:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "strict": True, "schema": PROBE_SCHEMA},
    }
    return _answer_problem(_streamed(ASK, tag, response_format=response_format).text)


def _tool_problem(result: ChatResult) -> str:
    calls = [call for call in result.tool_calls if call.name == PROBE_TOOL_NAME]
    if not calls:
        return "the model answered without calling the tool"
    return _answer_problem(calls[0].arguments)


def _answer_problem(text: str) -> str:
    try:
        data = load_json_object(text)
    except LLMOutputInvalid as invalid:
        return str(invalid)
    answer = data.get("answer")
    return "" if isinstance(answer, str) and answer.strip() else f"no answer in {json.dumps(data)}"


PROBES: dict[str, Callable[[CallTag], str]] = {
    "streaming": _streaming,
    "tools": _tools,
    "forced_tool": _forced_tool,
    "json_schema": _json_schema,
}
