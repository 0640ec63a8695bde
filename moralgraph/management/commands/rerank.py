"""python manage.py rerank --bundle DIR --input IN.jsonl --out OUT.jsonl [--device cpu|cuda]"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from moralgraph.reranker.api import Reranker, rerank_lines
from moralgraph.reranker.bundle import BundleError, load_bundle
from moralgraph.reranker.config import RerankerConfig
from moralgraph.reranker.embedding import EncoderUnavailable


class Command(BaseCommand):
    help = (
        "Score candidate responses against a bundle's values. IN rows are "
        '{"id", "prompt", "candidates": [...]}; OUT rows add "scores", "breakdown", "contexts", '
        '"abstained", "scorer_version" and "graph_version". A row that cannot be read gets an '
        '"error" (with its line number) and the others are still scored.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--bundle", required=True, type=Path, help="bundle directory")
        parser.add_argument("--input", required=True, type=Path, help="input .jsonl")
        parser.add_argument("--out", required=True, type=Path, help="output .jsonl")
        parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
        parser.add_argument("--batch-rows", type=int, default=16, help="rows per encoder batch")

    def handle(self, *args, bundle: Path, input: Path, out: Path, device: str, **options):  # noqa: A002
        if not input.is_file():
            raise CommandError(f"No input file at {input}.")
        try:
            reranker = Reranker(load_bundle(bundle), RerankerConfig(device=device))
        except (BundleError, EncoderUnavailable, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        rows = errors = 0
        with input.open(encoding="utf-8") as lines, out.open("w", encoding="utf-8") as sink:
            for row in rerank_lines(reranker, lines, batch_rows=options["batch_rows"]):
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows += 1
                if "error" in row:
                    errors += 1
                    self.stderr.write(row["error"])
        self.stdout.write(
            f"Wrote {rows} rows to {out} ({errors} with errors), scorer "
            f"{reranker.config.version}, graph {reranker.bundle.graph_version or 'unversioned'}."
        )
