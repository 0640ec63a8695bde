"""The interview websocket protocol: frame shapes, limits and stable error codes.

Client -> server frames:
    {"type": "message", "client_id": "<1-64 chars>", "content": "<text>"}
    {"type": "retry"}   ask the interviewer again after a failed or cut-off reply
    {"type": "make_card"}  write my card now (offered after the study's number of messages)
    {"type": "ping"}

Server -> client frames:
    history     sent on connect: the whole transcript from the database, so a reload resumes;
                `make_card_after` is how many participant messages unlock "make_card"
    ack         the participant's message is stored (sent only after the database write)
    reply_start the interviewer began answering (typing indicator)
    token       one streamed piece of the reply
    reply_end   the reply is stored; `complete` is false when the stream was cut off; `more`
                (when present) says the turn goes on: a card is being written
    card        the interviewer proposed a values card; `url` is the review page
    fallback    the LLM cannot be used; `url` is the guided form that still yields a card
                (code "llm_budget": the study's spend cap; "llm_interview_cap": this interview's)
    error       {"code", "message", "retryable"}; the interview state did not change.
                "study_closed", "withdrawn", "not_consented": the participant may not write
                any more; nothing was stored and the interviewer was not asked.
                Text refused by the hygiene gate (elicitation/hygiene.py): "bad_text" (lone
                surrogates, NUL, other control characters), "empty_message" (nothing visible).
                "rate_limited": messages and retries share one allowance per minute.
                "unavailable": the turn could not be claimed (the cache is unreachable);
                nothing was stored: send the message again in a moment.
                "llm_message_cap": the interviewer already made MGE_LLM_CALLS_PER_MESSAGE
                calls for this message; the participant may write again.
    pong
"""

import json
import re
from dataclasses import dataclass

from .hygiene import TextRefused, participant_text

PROTOCOL_VERSION = 1
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class ClientError(Exception):
    """A frame the server refuses; mapped to an error frame, nothing is changed."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable

    def as_frame(self) -> dict:
        return error_frame(self.code, self.message, retryable=self.retryable)


@dataclass(frozen=True)
class MessageFrame:
    client_id: str
    content: str


@dataclass(frozen=True)
class RetryFrame:
    pass


@dataclass(frozen=True)
class PingFrame:
    pass


@dataclass(frozen=True)
class MakeCardFrame:
    pass


ClientFrame = MessageFrame | RetryFrame | PingFrame | MakeCardFrame


def parse_client_frame(raw: str | None, *, max_bytes: int, max_chars: int) -> ClientFrame:
    """Validate one text frame from the browser, or raise ClientError saying what is wrong."""
    if raw is None:
        raise ClientError("bad_frame", "Only text frames are accepted.")
    if len(raw.encode("utf-8")) > max_bytes:
        raise ClientError("frame_too_large", f"Frames may be at most {max_bytes} bytes.")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ClientError("bad_frame", "The frame is not valid JSON.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ClientError("bad_frame", 'A frame must be a JSON object with a "type".')
    kind = data["type"]
    if kind == "message":
        return _parse_message(data, max_chars=max_chars)
    if kind == "retry":
        return RetryFrame()
    if kind == "ping":
        return PingFrame()
    if kind == "make_card":
        return MakeCardFrame()
    raise ClientError("bad_frame", f"Unknown frame type {kind[:40]!r}.")


def _parse_message(data: dict, *, max_chars: int) -> MessageFrame:
    client_id = data.get("client_id")
    content = data.get("content")
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.match(client_id):
        raise ClientError("bad_frame", "A message needs a client_id of 1-64 letters or digits.")
    if not isinstance(content, str):
        raise ClientError("bad_frame", "A message needs text content.")
    try:
        content = participant_text(content)
    except TextRefused as refused:
        raise ClientError(refused.code, refused.message) from None
    if len(content) > max_chars:
        raise ClientError(
            "message_too_long",
            f"Messages may be at most {max_chars} characters; yours has {len(content)}.",
        )
    return MessageFrame(client_id=client_id, content=content)


def error_frame(code: str, message: str, *, retryable: bool = False) -> dict:
    return {"type": "error", "code": code, "message": message, "retryable": retryable}
