"""The interview as a pure state machine: transcript + model output -> next step.

No Django and no SDK here: the consumer feeds in plain records and acts on the step returned.
"""

import json
import re
from dataclasses import dataclass

SUBMIT_CARD_TOOL_NAME = "submit_values_card"
CARD_SHOWN_NOTE = "The card was shown to the participant for review and editing."
CARD_REJECTED_NOTE = "The card was not valid, so it was not shown."

# Ways to ask the model for a card, strongest structure first.
JSON_SCHEMA, FORCED_TOOL, JSON_TEXT = "json_schema", "forced_tool", "json_text"


@dataclass(frozen=True)
class Turn:
    """One stored message, as the model should see it."""

    role: str
    content: str
    tool_calls: tuple[dict, ...] = ()
    tool_call_id: str = ""


@dataclass(frozen=True)
class Reply:
    text: str


@dataclass(frozen=True)
class ProposeCard:
    arguments: str
    tool_call_id: str
    text: str


@dataclass(frozen=True)
class NothingSaid:
    """The model returned neither text nor a card: treated as a failed turn."""


@dataclass(frozen=True)
class CardInProse:
    """The model wrote the card out in its reply instead of calling the tool."""

    text: str
    fields: dict


@dataclass(frozen=True)
class CardToolNamed:
    """The model only named the card tool in its text ("functions.submit_values_card:"), as
    small models on servers without streamed tool calls do: it means to write the card."""


Step = Reply | ProposeCard | CardInProse | CardToolNamed | NothingSaid

_TOOL_NAMED = re.compile(
    rf"\s*(?:functions\.)?{SUBMIT_CARD_TOOL_NAME}\s*(?::|\(\s*\)?|\{{\s*\}}?)?\s*", re.IGNORECASE
)


def llm_messages(system_prompt: str, transcript: list[Turn]) -> list[dict]:
    """The chat-completions message list for the next interviewer turn."""
    messages: list[dict] = [{"role": "system", "content": system_prompt}]
    for turn in transcript:
        message: dict = {"role": turn.role, "content": turn.content}
        if turn.tool_calls:
            message["tool_calls"] = list(turn.tool_calls)
        if turn.role == "tool":
            message["tool_call_id"] = turn.tool_call_id
        messages.append(message)
    return messages


def next_step(text: str, tool_calls: list[tuple[str, str, str]]) -> Step:
    """Decide what the model's output means. `tool_calls` holds (id, name, arguments)."""
    for call_id, name, arguments in tool_calls:
        if name == SUBMIT_CARD_TOOL_NAME:
            return ProposeCard(arguments=arguments, tool_call_id=call_id, text=text.strip())
    if not text.strip():
        return NothingSaid()
    if _TOOL_NAMED.fullmatch(text):
        return CardToolNamed()
    fields = card_from_prose(text)
    if fields is not None:
        return CardInProse(text=text, fields=fields)
    return Reply(text=text)


def awaiting_reply(transcript: list[Turn]) -> bool:
    """True when the interviewer owes an answer: the participant spoke last, or the card the
    interviewer last proposed was rejected (a retry then asks for the card again)."""
    if not transcript:
        return False
    last = transcript[-1]
    return last.role == "user" or (
        last.role == "tool" and last.content.startswith(CARD_REJECTED_NOTE)
    )


def participant_messages(transcript: list[Turn]) -> int:
    return sum(turn.role == "user" for turn in transcript)


def may_request_card(transcript: list[Turn], after: int) -> bool:
    """The "Make my card" button is offered once the participant has written `after` messages."""
    return participant_messages(transcript) >= after


def turn_limit_reached(transcript: list[Turn], limit: int) -> bool:
    """At the limit the interviewer stops asking and the card is written from what was said."""
    return participant_messages(transcript) >= limit


def articulation_methods(*, json_schema: bool | None, forced_tool: bool | None) -> list[str]:
    """The ways to try, strongest first: known-unsupported ones are skipped, unknown ones tried;
    JSON in plain text always comes last, as every chat model can be asked for it."""
    known = {JSON_SCHEMA: json_schema, FORCED_TOOL: forced_tool}
    return [method for method, works in known.items() if works is not False] + [JSON_TEXT]


# --- a card written as prose ---

_LABEL = re.compile(
    r"^\s*(?:[-*#>]+\s*)?(?:\*\*|__)?\s*(title|description|context|"
    r"(?:attentional\s+)?polic(?:y|ies))\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.*)$",
    re.IGNORECASE,
)
_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+)$")


def card_from_prose(text: str) -> dict | None:
    """The card fields of a reply that writes a card out ("**Title:** ...", a list of
    policies ..., or the card's JSON), or None when the reply is not a card. Fields are not
    validated here."""
    if (card := _card_json_in(text)) is not None:
        return card
    fields: dict = {"policies": []}
    current = None
    for line in text.splitlines():
        current = _read_card_line(line, fields, current)
    labelled = {name for name in ("title", "description", "context") if fields.get(name)}
    if "title" in labelled and (len(labelled) >= 2 or fields["policies"]):
        return {name: fields.get(name, "") for name in ("title", "description", "context")} | {
            "policies": fields["policies"]
        }
    return None


def _card_json_in(text: str) -> dict | None:
    start, end = text.find("{"), text.rfind("}")
    if not 0 <= start < end:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("arguments"), dict):
        data = data["arguments"]  # {"name": "submit_values_card", "arguments": {...}}
    if not isinstance(data, dict) or "title" not in data:
        return None
    return {name: data.get(name, "") for name in ("title", "description", "context")} | {
        "policies": data.get("policies", [])
    }


def _read_card_line(line: str, fields: dict, current: str | None) -> str | None:
    """Take one line into `fields`; return the field that following lines continue."""
    if label := _LABEL.match(line):
        name = "policies" if label[1].lower().endswith(("policy", "policies")) else label[1].lower()
        value = _plain(label[2])
        if name == "policies":
            fields["policies"] += [value] if value else []
        else:
            fields[name] = value
        return name
    if current == "policies" and (item := _ITEM.match(line)):
        fields["policies"].append(_plain(item[1]))
        return current
    if current in ("description", "context") and line.strip() and not fields[current]:
        fields[current] = _plain(line)
    return current if line.strip() or current == "policies" else None


def _plain(text: str) -> str:
    """Markdown emphasis and surrounding quotes removed."""
    return re.sub(r"\*\*|__|(?<!\w)[*_](?!\s)|(?<!\s)[*_](?!\w)", "", text).strip().strip('"“”')


def should_fall_back(consecutive_failures: int, threshold: int, *, retryable: bool) -> bool:
    """Offer the guided form when retrying cannot help or has failed `threshold` times."""
    return not retryable or consecutive_failures >= threshold


def tool_call_record(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
