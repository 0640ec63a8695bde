"""Command-line arguments that several moral-graph commands share."""

from pathlib import Path


def add_bundle_and_prompts(parser) -> None:
    parser.add_argument("--bundle", required=True, type=Path, help="bundle directory")
    parser.add_argument(
        "--prompts",
        required=True,
        type=Path,
        help=".jsonl with a 'prompt' field (and optional 'id'), or DailyDilemmas' .csv",
    )
