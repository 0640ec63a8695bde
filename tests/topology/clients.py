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


def job_start(stack: Stack, slug: str, kind: str, params: dict) -> int:
    return stack.django(f"""
from dashboard.jobs import job_start
from elicitation.models import Study
study = Study.objects.get(slug={slug!r})
print(json.dumps(job_start(study=study, kind={kind!r}, params={params!r}).pk))
""")


def job_state(stack: Stack, job_id: int) -> tuple[str, int]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT state, progress_done FROM dashboard_job WHERE id = %s", [job_id]
        ).fetchone()


def interview_status(stack: Stack, interview_id: int) -> str:
    with psycopg.connect(stack.database_url) as conn:
        query = "SELECT status FROM elicitation_interview WHERE id = %s"
        return conn.execute(query, [interview_id]).fetchone()[0]


async def until(condition, *, timeout: float, every: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(every)


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
        unsent = True
        while True:
            try:
                if unsent:
                    unsent = False  # after a dropped socket, resuming sends it again
                    await self.send_message(ws, client_id, text)
                ending = await self.follow(ws, client_id)
                if ending is not None:
                    await ws.close()
                    return ending
                await self.ask_again(ws, client_id, text)
            except websockets.ConnectionClosed as closed:
                self.frames.append({"closed": str(closed)})
                self.reconnects += 1
                ws = await self.reconnect(client_id, text)
                if ws is None:
                    return "reply_end"

    async def ask_again(self, ws, client_id: str, text: str) -> None:
        """After a retryable end, as the browser's Retry button: the message again while it is
        unacknowledged (after a pause), else the reply again."""
        if client_id in self.acked:
            await self.send(ws, {"type": "retry"})
        else:
            await asyncio.sleep(0.5)
            await self.send_message(ws, client_id, text)

    async def send_message(self, ws, client_id: str, text: str) -> None:
        await self.send(ws, {"type": "message", "client_id": client_id, "content": text})

    async def reconnect(self, client_id: str, text: str):
        """A new socket that has resumed the turn, or None when the reply was stored whole.
        A socket may drop again while a service is still down: the browser tries again."""
        deadline = asyncio.get_running_loop().time() + RECONNECT_SECONDS
        while True:
            ws = await self.connect()
            try:
                return ws if await self.resume(ws, client_id, text) else None
            except websockets.ConnectionClosed as closed:
                self.frames.append({"closed": str(closed)})
                assert asyncio.get_running_loop().time() < deadline, "could not resume in time"
                await asyncio.sleep(0.3)

    async def resume(self, ws, client_id: str, text: str) -> bool:
        """Pick up after a reconnect; False when the reply was already stored whole."""
        shown = {m["id"] for m in self.history["messages"]}
        assert self.acked_ids <= shown, f"acknowledged, not in history: {self.acked_ids - shown}"
        if client_id not in self.acked:  # never acknowledged: the browser sends it again
            await self.send_message(ws, client_id, text)
        elif self.history["awaiting_reply"]:
            await self.send(ws, {"type": "retry"})
        else:  # the reply was stored whole before the socket dropped
            await ws.close()
            return False
        return True

    async def send(self, ws, frame: dict) -> None:
        self.frames.append({"sent": frame["type"]})
        await ws.send(json.dumps(frame))

    async def follow(self, ws, client_id: str) -> str | None:
        """Read frames until the turn ends (its end frame type) or asks for a retry (None).

        "busy" answers a retry that came while a turn still runs (here, or a claim left by a
        killed process): keep listening if the turn is ours, else ask again after a pause.
        """
        turn_running = False
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            self.frames.append(frame)
            kind = frame["type"]
            if kind == "ack" and frame["client_id"] == client_id:
                self.acked.add(client_id)
                self.acked_ids.add(frame["message_id"])
            elif kind == "reply_start":
                turn_running = True
            elif kind == "token":
                self.tokens += 1
            elif kind in ("reply_end", "fallback", "card"):
                if kind != "reply_end" or frame.get("complete", True):
                    return kind
            elif kind == "error" and frame["code"] == "busy":
                if not turn_running:
                    await asyncio.sleep(1)
                    return None
            elif kind == "error":
                assert frame.get("retryable"), f"unretryable error {frame} after {self.frames}"
                return None
