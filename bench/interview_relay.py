"""Relay benchmark: N concurrent websocket interviews through the real ASGI server (Daphne).

A fake OpenAI-compatible server streams each reply at a fixed token rate and stamps every chunk
with its monotonic send time; the browser side here stamps each token frame on arrival. Relay
latency = frame in - chunk out (one machine, one monotonic clock). Messages lost = messages
acknowledged to the client but missing from the database, plus replies that never finished.

    python bench/interview_relay.py --sessions 100
    python bench/interview_relay.py --sessions 1000

Last line: sessions, sessions held, p50/p99 relay latency (ms) and messages lost.
"""

import argparse
import asyncio
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_wire import parse_stamps  # noqa: E402
from tests.topology.stack import wait_for_port  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database_url: str, llm_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "false",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LLM_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
        "LLM_API_KEY": "bench",
        "LLM_MODEL": "fake-model",
        "MGE_CHAT_RATE_PER_MINUTE": "1000",
        "LOG_LEVEL": "WARNING",
    }


def prepare_database(env: dict[str, str], sessions: int) -> list[tuple[int, str]]:
    """Migrate, then create one participant and interview per session; returns (id, cookie)."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    script = f"""
import django, json
django.setup()
from elicitation import services
from elicitation.access import signed_token
from elicitation.models import Question, Study
study, _ = Study.objects.get_or_create(slug="bench", defaults={{"title": "Bench", "state": "open"}})
question = Question.objects.create(study=study, title="q", text="How should an AI help here?")
rows = []
for _ in range({sessions}):
    p = services.participant_start(study=study)
    p = services.participant_consent(participant=p, agreed=True)
    rows.append((services.interview_start(participant=p, question=question).pk, signed_token(p)))
print(json.dumps(rows))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return [tuple(row) for row in json.loads(out.stdout)]


async def one_session(
    target: "Target", interview_id: int, cookie: str, stats: dict, gate: asyncio.Semaphore
) -> None:
    uri = f"{target.ws}/ws/interview/{interview_id}/"
    headers = {"Cookie": f"mge_participant={cookie}"}
    await gate.acquire()
    try:
        async with websockets.connect(
            uri,
            additional_headers=headers,
            origin=target.origin,
            open_timeout=60,
            max_queue=None,
            ssl=target.tls,
        ) as ws:
            history = json.loads(await ws.recv())
            gate.release()
            gate = None
            assert history["type"] == "history"
            stats["connected"] += 1
            client_id = f"bench-{interview_id}"
            await ws.send(
                json.dumps(
                    {
                        "type": "message",
                        "client_id": client_id,
                        "content": "When my sister faced this, I listened.",
                    }
                )
            )
            await relay_reply(ws, stats, client_id)
            finished(stats)
            await stats["all_done"].wait()
            stats["held_at_end"] += 1
    except Exception as exc:  # noqa: BLE001 - every failure is counted, none may stop the run
        stats["errors"].append(repr(exc)[:200])
        finished(stats)
    finally:
        if gate is not None:
            gate.release()


def finished(stats: dict) -> None:
    stats["finished"] += 1
    if stats["finished"] == stats["sessions"]:
        stats["all_done"].set()


async def relay_reply(ws, stats: dict, client_id: str) -> None:
    while True:
        frame = json.loads(await ws.recv())
        arrived = time.monotonic()
        if frame["type"] == "ack" and frame["client_id"] == client_id:
            stats["acked"] += 1
        elif frame["type"] == "token":
            for _, sent in parse_stamps(frame["text"]):
                stats["latencies"].append(arrived - sent)
        elif frame["type"] == "reply_end":
            stats["replies"] += 1
            return
        elif frame["type"] in ("error", "fallback"):
            raise RuntimeError(f"{frame['type']}: {frame.get('code')}")


@dataclass
class Target:
    """Where the load client connects: Daphne directly, or nginx over TLS."""

    ws: str
    origin: str
    tls: ssl.SSLContext | None = None

    @classmethod
    def direct(cls, port: int) -> "Target":
        return cls(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}")


async def run_sessions(target: Target, rows: list[tuple[int, str]], ramp: int) -> dict:
    stats = {
        "sessions": len(rows),
        "connected": 0,
        "acked": 0,
        "replies": 0,
        "finished": 0,
        "held_at_end": 0,
        "latencies": [],
        "errors": [],
        "all_done": asyncio.Event(),
    }
    gate = asyncio.Semaphore(ramp)
    await asyncio.gather(*(one_session(target, i, c, stats, gate) for i, c in rows))
    return stats


def count_lost(env: dict[str, str], stats: dict) -> int:
    """Acknowledged messages missing from the database, plus replies never stored whole."""
    script = """
import django, json
django.setup()
from elicitation.models import Message
user = Message.objects.filter(role="user", client_id__startswith="bench-").count()
replies = Message.objects.filter(
    role="assistant", is_complete=True, llm_call__isnull=False
).count()
print(json.dumps([user, replies]))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True
    )
    stored_user, stored_replies = json.loads(out.stdout)
    return max(stats["acked"] - stored_user, 0) + max(stats["acked"] - stored_replies, 0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--token-delay", type=float, default=0.05, help="seconds between chunks")
    parser.add_argument(
        "--database-url",
        help="an EMPTY database to use (default: a new SQLite file); e.g. postgres://...",
    )
    parser.add_argument("--ramp", type=int, default=100, help="handshakes in flight at once")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="mge-relay-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    llm_port, app_port = free_port(), free_port()
    env = server_env(database_url, llm_port)
    rows = prepare_database(env, args.sessions)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.fakes.openai_server",
                "--port",
                str(llm_port),
                "--token-delay",
                str(args.token_delay),
                "--stamp-tokens",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(app_port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        wait_for_port(llm_port)
        wait_for_port(app_port)
        started = time.monotonic()
        stats = asyncio.run(run_sessions(Target.direct(app_port), rows, args.ramp))
        elapsed = time.monotonic() - started
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    lost = count_lost(env, stats)
    ms = [x * 1000 for x in stats["latencies"]]
    engine = database_url.split(":", 1)[0]
    print(
        f"database: {engine}; token rate per session: {1 / args.token_delay:.0f}/s; "
        f"wall time {elapsed:.1f}s"
    )
    print(f"tokens relayed: {len(ms)}; errors: {len(stats['errors'])} {stats['errors'][:3]}")
    print(
        f"sessions={args.sessions} held={stats['held_at_end']} "
        f"p50_ms={percentile(ms, 50):.1f} p99_ms={percentile(ms, 99):.1f} "
        f"messages_lost={lost}"
    )


if __name__ == "__main__":
    main()
