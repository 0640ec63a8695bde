"""``python -m moralgraph.reranker serve --bundle DIR [--port 8765] [--device cpu|cuda]``

and ``python -m moralgraph.reranker score --bundle DIR --input IN.jsonl --out OUT.jsonl``: the
loopback HTTP scorer, and the same JSONL scoring as ``manage.py rerank`` without Django.
"""

import argparse
import json
import sys
from collections.abc import Sequence

from .api import Reranker, rerank_lines
from .bundle import BundleError, load_bundle
from .config import RerankerConfig
from .embedding import EncoderUnavailable


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        reranker = Reranker(load_bundle(args.bundle), RerankerConfig(device=args.device))
    except (BundleError, EncoderUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(reranker, args.port)
    with open(args.input, encoding="utf-8") as lines, open(args.out, "w", encoding="utf-8") as out:
        for row in rerank_lines(reranker, lines):
            out.write(json.dumps(row) + "\n")
    return 0


def _serve(reranker: Reranker, port: int) -> int:
    from .server import make_server

    server = make_server(reranker, port)
    print(f"scoring on http://127.0.0.1:{server.port} (POST /score, GET /health)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m moralgraph.reranker")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="loopback HTTP scorer")
    serve.add_argument("--port", type=int, default=8765)
    score = commands.add_parser("score", help="score a JSONL file")
    score.add_argument("--input", required=True)
    score.add_argument("--out", required=True)
    for command in (serve, score):
        command.add_argument("--bundle", required=True, help="bundle directory")
        command.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    return parser


if __name__ == "__main__":
    sys.exit(main())
