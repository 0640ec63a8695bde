"""The interview socket: thin. Frames in, services and the interviewer turn, frames out."""

import asyncio
import uuid
from http.cookies import SimpleCookie

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.http import Http404
from django.urls import reverse

from ops.logcontext import bind_interview
from ops.metrics import LIVE_INTERVIEWS, TURNS_IN_FLIGHT

from . import access, selectors, services, throttle
from .asyncdb import db
from .dialogue import awaiting_reply, may_request_card
from .interviewer import interviewer_turn
from .models import Interview
from .protocol import (
    PROTOCOL_VERSION,
    ClientError,
    ClientFrame,
    MakeCardFrame,
    MessageFrame,
    PingFrame,
    error_frame,
    parse_client_frame,
)
from .turnlock import TurnLockUnavailable, turn_claim, turn_kept, turn_release

CLOSE_FORBIDDEN = 4403
TURN_SAVE_GRACE_SECONDS = 5
TURN_ENDING_FRAMES = {"card", "error", "fallback"}


class InterviewConsumer(AsyncJsonWebsocketConsumer):
    # Nothing sends to an interview socket from another process, so it reads no channel layer:
    # a Redis restart would otherwise close every open interview.
    channel_layer_alias = None
    interview: Interview | None = None
    turn: asyncio.Task | None = None
    turn_open = False
    turn_claimed = False
    counted_live = False

    async def connect(self) -> None:
        self.interview = await db(_interview_for_scope)(self.scope)
        if self.interview is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.owner = uuid.uuid4().hex
        bind_interview(self.interview.pk)
        await self.accept()
        LIVE_INTERVIEWS.inc()
        self.counted_live = True
        await self.send_json(await db(_history_frame)(self.interview))

    async def disconnect(self, code: int) -> None:
        if self.counted_live:
            self.counted_live = False
            LIVE_INTERVIEWS.dec()
        if self.turn and not self.turn.done():
            self.turn.cancel()
            await asyncio.wait({self.turn}, timeout=TURN_SAVE_GRACE_SECONDS)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = parse_client_frame(
                text_data,
                max_bytes=settings.MGE_FRAME_MAX_BYTES,
                max_chars=settings.MGE_MESSAGE_MAX_CHARS,
            )
            await self.handle(frame)
        except ClientError as error:
            await self.send_json(error.as_frame())
        except access.WriteRefused as refused:
            await self.send_json(error_frame(refused.code, refused.message))

    async def handle(self, frame: ClientFrame) -> None:
        if isinstance(frame, PingFrame):
            await self.send_json({"type": "pong"})
            return
        # Every write and every LLM call below waits on this: closed, withdrawn, no consent.
        await db(access.participant_write_check)(self.interview.participant)
        await db(self.interview.refresh_from_db)(fields=["status"])
        if self.interview.status in (Interview.Status.GUIDED, Interview.Status.COMPLETED):
            raise ClientError("interview_closed", "This interview is finished.")
        if not self.turn_finished():
            raise ClientError("busy", "Please wait for the interviewer to finish.", retryable=True)
        await self.count_against_rate()
        await self.claim_turn()
        try:
            if isinstance(frame, MessageFrame):
                if not await self.add_message(frame):
                    await self.release_turn()
                    return
            elif isinstance(frame, MakeCardFrame):
                if not await db(_may_make_card)(self.interview):
                    raise ClientError("too_early", "Please tell the interviewer a little more.")
            elif not await db(_awaits_reply)(self.interview):
                raise ClientError("nothing_to_retry", "There is nothing to retry.")
        except BaseException:
            # Whatever went wrong (a refusal, a database fault), the next message may try again.
            await self.release_turn()
            raise
        self.turn_open = True
        self.turn = asyncio.create_task(self.run_turn(make_card=isinstance(frame, MakeCardFrame)))

    async def run_turn(self, *, make_card: bool = False) -> None:
        try:
            async with turn_kept(self.interview.pk, self.owner):
                with TURNS_IN_FLIGHT.track_inprogress():
                    await interviewer_turn(
                        self.interview, self.send_turn_frame, make_card=make_card
                    )
        finally:
            await self.release_turn()

    async def claim_turn(self) -> None:
        try:
            claimed = await db(turn_claim)(self.interview.pk, self.owner)
        except TurnLockUnavailable:
            raise ClientError(
                "unavailable",
                "We could not take your message just now. Please try again.",
                retryable=True,
            ) from None
        if not claimed:
            raise ClientError(
                "busy", "The interviewer is answering in another tab. Please wait.", retryable=True
            )
        self.turn_claimed = True

    async def release_turn(self) -> None:
        if self.turn_claimed:
            self.turn_claimed = False
            await db(turn_release)(self.interview.pk, self.owner)

    async def send_turn_frame(self, frame: dict) -> None:
        """Relay a turn's frame; its last frame ends the turn before the browser sees it."""
        if frame["type"] in TURN_ENDING_FRAMES or (
            frame["type"] == "reply_end" and frame["complete"] and not frame.get("more")
        ):
            self.turn_open = False
            await self.release_turn()
        await self.send_json(frame)

    def turn_finished(self) -> bool:
        return not self.turn_open or self.turn is None or self.turn.done()

    async def count_against_rate(self) -> None:
        """Messages and retries share one allowance: each may start an LLM turn."""
        allowed = await db(throttle.allow)(
            f"chat:{self.interview.participant_id}",
            per_minute=settings.MGE_CHAT_RATE_PER_MINUTE,
        )
        if not allowed:
            raise ClientError("rate_limited", "You are sending messages too fast.", retryable=True)

    async def add_message(self, frame: MessageFrame) -> bool:
        """Store then acknowledge; False for a replayed message, which starts no new turn."""
        message, created = await db(services.interview_message_add)(
            interview=self.interview, client_id=frame.client_id, content=frame.content
        )
        await self.send_json(
            {
                "type": "ack",
                "client_id": frame.client_id,
                "message_id": message.pk,
                "duplicate": not created,
            }
        )
        return created


def _interview_for_scope(scope: dict) -> Interview | None:
    cookies = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookies.load(value.decode("latin-1"))
    morsel = cookies.get(settings.MGE_PARTICIPANT_COOKIE)
    participant = access.participant_from_cookie_value(morsel.value if morsel else None)
    try:
        interview_id = int(scope["url_route"]["kwargs"]["pk"])
        return access.interview_for_participant(participant, interview_id)
    except (Http404, KeyError, ValueError):
        return None


def _awaits_reply(interview: Interview) -> bool:
    return awaiting_reply(selectors.interview_transcript(interview))


def _may_make_card(interview: Interview) -> bool:
    after = interview.participant.study.card_button_after
    return may_request_card(selectors.interview_transcript(interview), after)


def _history_frame(interview: Interview) -> dict:
    card = selectors.interview_card(interview)
    transcript = selectors.interview_transcript(interview)
    fallback = interview.status == Interview.Status.GUIDED
    return {
        "type": "history",
        "protocol": PROTOCOL_VERSION,
        "status": interview.status,
        "messages": selectors.interview_history_messages(interview),
        "awaiting_reply": awaiting_reply(transcript) and not fallback,
        "card": selectors.card_as_dict(card) if card else None,
        "card_url": reverse("elicitation:card", kwargs={"pk": interview.pk}),
        "make_card_after": interview.participant.study.card_button_after,
        "fallback_url": reverse("elicitation:guided", kwargs={"pk": interview.pk})
        if fallback
        else None,
    }
