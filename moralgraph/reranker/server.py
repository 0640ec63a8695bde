"""A loopback HTTP scorer for trainers: ``POST /score`` and ``GET /health``, stdlib only.

``POST /score`` takes ``{"prompt": ..., "candidates": [...], "contexts": [...]?}`` and answers
the `RerankResult` as JSON; a request the reranker cannot read gets 400 with ``{"error": ...}``.
The server binds 127.0.0.1 only: it has no authentication and is meant for a trainer on the
same machine.
"""

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api import Reranker, parse_row
from .bundle import BundleError
from .retrieval import RerankInputError

LOOPBACK = "127.0.0.1"
MAX_BODY = 16 * 1024 * 1024

logger = logging.getLogger(__name__)


class ScorerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reranker: Reranker, port: int = 0) -> None:
        self.reranker = reranker
        super().__init__((LOOPBACK, port), ScoreHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class ScoreHandler(BaseHTTPRequestHandler):
    server: ScorerServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server names)
        if self.path != "/health":
            self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        reranker = self.server.reranker
        self._send(
            HTTPStatus.OK,
            {
                "status": "ok",
                "graph_version": reranker.bundle.graph_version,
                "scorer_version": reranker.config.version,
                "device": reranker.config.device,
                "contexts": len(reranker.bundle.contexts),
                "values": len(reranker.bundle.values),
            },
        )

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/score":
            self._send(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        try:
            request = self._read_json()
            prompt, candidates = parse_row(request)
            contexts = request.get("contexts")
            result = self.server.reranker.rerank(prompt, candidates, contexts=contexts)
        except (RerankInputError, BundleError, ValueError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._send(HTTPStatus.OK, result.to_dict())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.debug("%s - " + format, self.address_string(), *args)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            raise RerankInputError(f"body must be 1 to {MAX_BODY} bytes of JSON")
        try:
            return json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RerankInputError(f"body is not JSON: {exc}") from exc

    def _send(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(reranker: Reranker, port: int = 0) -> ScorerServer:
    """A server on 127.0.0.1:`port` (0 picks a free port); call `serve_forever()` to run it."""
    return ScorerServer(reranker, port)
