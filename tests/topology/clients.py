"""Participants as a browser drives them: through nginx over TLS, reconnecting and resuming."""

import asyncio
import json
import ssl
from dataclasses import dataclass, field

import psycopg
import websockets

from tests.topology.stack import Stack

RECONNECT_SECONDS = 30


def insecure_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the stack's certificate is self-signed
    return context


def participants_create(stack: Stack, count: int, slug: str) -> list[tuple[int, str]]:
    """Consented participants with an interview each, as (interview id, cookie value)."""
    return stack.django(f"""
from elicitation import services
from elicitation.access import signed_token
from elicitation.models import Question, Study
study, _ = Study.objects.get_or_create(slug={slug!r}, defaults={{"title": "T", "state": "open"}})
question = Question.objects.create(study=study, title="q", text="How should an AI help here?")
rows = []
for _ in range({count}):
    p = services.participant_start(study=study)
    p = services.participant_consent(participant=p, agreed=True)
    rows.append((services.interview_start(participant=p, question=question).pk, signed_token(p)))
print(json.dumps(rows))
""")


def stored_user_messages(stack: Stack, interview_ids: list[int]) -> set[str]:
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT client_id FROM elicitation_message "
            "WHERE role = 'user' AND interview_id = ANY(%s)",
            [interview_ids],
        ).fetchall()
    return {row[0] for row in rows if row[0]}


def complete_replies(stack: Stack, interview_ids: list[int]) -> dict[int, int]:
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT interview_id, count(*) FROM elicitation_message WHERE role = 'assistant' "
            "AND is_complete AND interview_id = ANY(%s) GROUP BY interview_id",
            [interview_ids],
        ).fetchall()
    return dict(rows)


@dataclass
class Participant:
    """One browser tab: sends a message, follows the reply, and after a dropped socket
    reconnects, checks its acknowledged messages came back, and asks for the reply again."""

    stack: Stack
    interview_id: int
    cookie: str
    acked: set[str] = field(default_factory=set)
    acked_ids: set[int] = field(default_factory=set)
    reconnects: int = 0
    tokens: int = 0
    frames: list[dict] = field(default_factory=list)
    history: dict | None = None

    async def connect(self):
        deadline = asyncio.get_running_loop().time() + RECONNECT_SECONDS
        while True:
            try:
                ws = await websockets.connect(
                    f"{self.stack.wss}/ws/interview/{self.interview_id}/",
                    additional_headers={"Cookie": f"mge_participant={self.cookie}"},
                    origin=self.stack.https,
                    ssl=insecure_tls(),
                    open_timeout=10,
                    max_queue=None,
                )
                self.history = json.loads(await ws.recv())
                return ws
            except (TimeoutError, OSError, websockets.WebSocketException):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.3)

    async def say_and_hear_reply(self, client_id: str, text: str) -> str:
        """Until a reply ends, whatever happens to the socket in between; returns the end frame
        type ("reply_end" or "fallback")."""
        ws = await self.connect()
        await ws.send(json.dumps({"type": "message", "client_id": client_id, "content": text}))
        while True:
            try:
                ending = await self.follow(ws, client_id)
                if ending is not None:
                    await ws.close()
                    return ending
                await asyncio.sleep(0.2)  # a retryable error: ask again
                await ws.send(json.dumps({"type": "retry"}))
            except websockets.ConnectionClosed:
                self.reconnects += 1
                ws = await self.connect()
                if not await self.resume(ws, client_id, text):
                    return "reply_end"

    async def resume(self, ws, client_id: str, text: str) -> bool:
        """Pick up after a reconnect; False when the reply was already stored whole."""
        shown = {m["id"] for m in self.history["messages"]}
        assert self.acked_ids <= shown, f"acknowledged, not in history: {self.acked_ids - shown}"
        if client_id not in self.acked:  # never acknowledged: the browser sends it again
            await ws.send(json.dumps({"type": "message", "client_id": client_id, "content": text}))
        elif self.history["awaiting_reply"]:
            await ws.send(json.dumps({"type": "retry"}))
        else:  # the reply was stored whole before the socket dropped
            await ws.close()
            return False
        return True

    async def follow(self, ws, client_id: str) -> str | None:
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            self.frames.append(frame)
            if frame["type"] == "ack" and frame["client_id"] == client_id:
                self.acked.add(client_id)
                self.acked_ids.add(frame["message_id"])
            elif frame["type"] == "token":
                self.tokens += 1
            elif frame["type"] in ("reply_end", "fallback", "card"):
                if frame["type"] != "reply_end" or frame.get("complete", True):
                    return frame["type"]
            elif frame["type"] == "error":
                if not frame.get("retryable"):
                    raise AssertionError(f"unretryable error {frame}")
                return None
