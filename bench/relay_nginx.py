"""Relay benchmark through the production topology: nginx (TLS) before 1 and 2 Daphne processes
on the production settings, PostgreSQL and Redis (tests/topology/stack.py), in one run.

For each web-process count and each session count of the sweep, N concurrent interviews stream
one reply each at the fake LLM's token rate; relay latency = token frame in at the client - chunk
out of the fake LLM (one machine, one monotonic clock). The CPU seconds each part of the stack
used during the 1,000-session run (or the largest) show whose time the budget is.

    python bench/relay_nginx.py --sweep 100,250,500,1000 --webs 1,2

Last line: sessions held at p99 <= 50 ms and <= 100 ms for each web count, and the ratio of
two processes' held sessions (p99 <= 100 ms) to one's.
"""

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.interview_relay import Target, percentile, run_sessions  # noqa: E402
from tests.topology.clients import participants_create  # noqa: E402
from tests.topology.stack import Stack, wait_for_port  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def insecure_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its living descendants (nginx workers, backends)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(proc.name) == pid or _descends(int(proc.name), pid):
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _descends(pid: int, ancestor: int) -> bool:
    for _ in range(4):
        try:
            pid = int((Path(f"/proc/{pid}/stat")).read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            return False
        if pid == ancestor:
            return True
        if pid <= 1:
            return False
    return False


def cpu_by_part(stack: Stack, llm: subprocess.Popen) -> dict[str, float]:
    parts = {name: cpu_seconds(proc.pid) for name, proc in stack.procs.items()}
    parts["llm (fake)"] = cpu_seconds(llm.pid)
    parts["load client"] = time.process_time()
    return parts


def participants(stack: Stack, count: int, slug: str) -> list[tuple[int, str]]:
    return [tuple(row) for row in participants_create(stack, count, slug)]


def lost(stack: Stack, rows: list[tuple[int, str]], stats: dict) -> int:
    ids = [row[0] for row in rows]
    stored_user, stored_replies = stack.django(f"""
from elicitation.models import Message
ids = {ids!r}
user = Message.objects.filter(role="user", interview_id__in=ids).count()
replies = Message.objects.filter(role="assistant", interview_id__in=ids, is_complete=True,
                                 llm_call__isnull=False).count()
print(json.dumps([user, replies]))
""")
    return max(stats["acked"] - stored_user, 0) + max(stats["acked"] - stored_replies, 0)


def measure(
    stack: Stack, llm: subprocess.Popen, sessions: int, ramp: int
) -> tuple[dict, dict[str, float]]:
    rows = participants(stack, sessions, f"bench-{len(stack.procs)}-{sessions}-{time.time_ns()}")
    target = Target(stack.wss, stack.https, insecure_tls())
    before = cpu_by_part(stack, llm)
    started = time.monotonic()
    stats = asyncio.run(run_sessions(target, rows, ramp))
    stats["wall"] = time.monotonic() - started
    after = cpu_by_part(stack, llm)
    stats["lost"] = lost(stack, rows, stats)
    return stats, {name: after[name] - before.get(name, 0.0) for name in after}


def fake_llm(port: int, token_delay: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port)]
    options = ["--token-delay", str(token_delay), "--stamp-tokens"]
    proc = subprocess.Popen([*command, *options], cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_for_port(port)
    return proc


def held(results: list[tuple[int, float, int, int]], limit_ms: float) -> int:
    """The largest session count whose run kept every session, lost nothing, met the p99."""
    ok = [n for n, p99, errors, lost_ in results if p99 <= limit_ms and not errors and not lost_]
    return max(ok, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", default="100,250,500,1000")
    parser.add_argument("--webs", default="1,2")
    parser.add_argument(
        "--servers", default="uvicorn", help="ASGI servers to compare (ops/serve.py)"
    )
    parser.add_argument("--token-delay", type=float, default=0.05, help="seconds between chunks")
    parser.add_argument("--ramp", type=int, default=100, help="handshakes in flight at once")
    parser.add_argument(
        "--warmup", type=int, default=50, help="sessions run first and not counted (connections)"
    )
    args = parser.parse_args()
    sweep = [int(n) for n in args.sweep.split(",")]
    summary: dict[tuple[str, int], list] = {}
    runs = [(s, int(n)) for s in args.servers.split(",") for n in args.webs.split(",")]
    for server, webs in runs:
        summary[server, webs] = []
        env = {"LOG_LEVEL": "ERROR"}
        stack = Stack(webs=webs, worker=False, extra_env=env, server=server)
        stack.llm_port = stack.ports.llm
        llm = fake_llm(stack.ports.llm, args.token_delay)
        try:
            with stack:
                measure(stack, llm, args.warmup, args.ramp)
                for sessions in sweep:
                    stats, cpu = measure(stack, llm, sessions, args.ramp)
                    ms = [x * 1000 for x in stats["latencies"]]
                    p50, p99 = percentile(ms, 50), percentile(ms, 99)
                    print(
                        f"server={server} webs={webs} sessions={sessions} "
                        f"held={stats['held_at_end']} "
                        f"p50_ms={p50:.1f} p99_ms={p99:.1f} errors={len(stats['errors'])} "
                        f"lost={stats['lost']} wall_s={stats['wall']:.1f} "
                        f"cpu_s={json.dumps({k: round(v, 1) for k, v in cpu.items()})} "
                        f"first_errors={stats['errors'][:2]}",
                        flush=True,
                    )
                    summary[server, webs].append(
                        (sessions, p99, len(stats["errors"]), stats["lost"])
                    )
        finally:
            llm.terminate()
            llm.wait(10)
    parts = [
        f"{s} webs={w}: held_p99_50ms={held(r, 50)} held_p99_100ms={held(r, 100)}"
        for (s, w), r in summary.items()
    ]
    print("; ".join(parts) + f"; {ratios(summary)}")


def ratios(summary: dict[tuple[str, int], list]) -> str:
    """Sessions held at p99 <= 100 ms: two processes against one, and the last server
    against the first (one process), each where the baseline held any."""
    servers = list(dict.fromkeys(server for server, _ in summary))
    out = []
    for server in servers:
        one, two = held(summary.get((server, 1), []), 100), held(summary.get((server, 2), []), 100)
        out.append(f"{server}_ratio_2_to_1_at_100ms={two / one:.2f}" if one else "")
    if len(servers) > 1:
        base, new = (held(summary.get((s, 1), []), 100) for s in (servers[0], servers[-1]))
        out.append(
            f"ratio_{servers[-1]}_to_{servers[0]}_at_100ms="
            + (f"{new / base:.2f}" if base else "n/a")
        )
    return "; ".join(x for x in out if x) or "ratio=n/a"


if __name__ == "__main__":
    main()
