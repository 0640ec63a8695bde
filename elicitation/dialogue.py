"""The interview as a pure state machine: transcript + model output -> next step.

No Django and no SDK here: the consumer feeds in plain records and acts on the step returned.
"""

from dataclasses import dataclass

SUBMIT_CARD_TOOL_NAME = "submit_values_card"
CARD_SHOWN_NOTE = "The card was shown to the participant for review and editing."


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


Step = Reply | ProposeCard | NothingSaid


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
    if text.strip():
        return Reply(text=text)
    return NothingSaid()


def awaiting_reply(transcript: list[Turn]) -> bool:
    """True when the participant spoke last, so the interviewer owes an answer."""
    return bool(transcript) and transcript[-1].role == "user"


def should_fall_back(consecutive_failures: int, threshold: int, *, retryable: bool) -> bool:
    """Offer the guided form when retrying cannot help or has failed `threshold` times."""
    return not retryable or consecutive_failures >= threshold


def tool_call_record(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
