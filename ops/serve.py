"""The production web process: `python -m ops.serve [--host H] [--port P]`.

One command for the container image, Kubernetes, the CI topology and the relay bench, so what
CI measures is what production runs. `MGE_WEB_SERVER` picks the ASGI server: `uvicorn` (the
default: uvloop's event loop, httptools, the `websockets` library) or `daphne`. Neither reads
the client address from proxy headers: the app does, behind `MGE_TRUSTED_PROXY_COUNT` proxies
(elicitation/clientaddr.py), so a client that reaches the process directly cannot choose it.
"""

from __future__ import annotations

import argparse
import os
import sys

APP = "config.asgi:application"
SERVERS = ("uvicorn", "daphne")


def server_command(server: str, host: str, port: int) -> list[str]:
    """The argv that serves the app on host:port with the named server."""
    if server == "daphne":
        return [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), APP]
    if server != "uvicorn":
        raise ValueError(f"MGE_WEB_SERVER must be one of {', '.join(SERVERS)}; got {server!r}.")
    uvicorn = [sys.executable, "-m", "uvicorn", APP, "--host", host, "--port", str(port)]
    fast = ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets"]
    quiet = ["--no-proxy-headers", "--no-access-log", "--lifespan", "off"]
    return [*uvicorn, *fast, *quiet, "--backlog", "4096", "--timeout-graceful-shutdown", "25"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the app (HTTP and websockets).")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's port
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    command = server_command(os.environ.get("MGE_WEB_SERVER", "uvicorn"), args.host, args.port)
    os.execv(command[0], command)  # noqa: S606 - our own argv, no shell


if __name__ == "__main__":
    main()
