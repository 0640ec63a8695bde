"""JSON Schemas (draft 2020-12) for every file of the bundle and of ``training/``.

A JSONL file's schema describes one row. :data:`FILE_SCHEMAS` says which schema fits which
file; :func:`schema_files` gives them as bundle files under ``schemas/``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DIRECTORY = Path(__file__).resolve().parent

#: Bundle path -> schema file name.
FILE_SCHEMAS = {
    "values.jsonl": "values.schema.json",
    "contexts.jsonl": "contexts.schema.json",
    "questions.jsonl": "questions.schema.json",
    "edges.jsonl": "edges.schema.json",
    "context_values.jsonl": "context_values.schema.json",
    "votes.jsonl": "votes.schema.json",
    "graph.json": "graph.schema.json",
    "report.json": "report.schema.json",
    "comparison.json": "comparison.schema.json",
    "manifest.json": "manifest.schema.json",
    "training/preference_trl.jsonl": "training_preference_trl.schema.json",
    "training/preference_openai_dpo.jsonl": "training_openai_dpo.schema.json",
    "training/prompts.jsonl": "training_prompts.schema.json",
    "training/candidates.jsonl": "training_candidates.schema.json",
    "training/manifest.json": "training_manifest.schema.json",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema called ``name`` (e.g. ``"values.schema.json"``)."""
    return json.loads((DIRECTORY / name).read_text(encoding="utf-8"))


def schema_files() -> dict[str, bytes]:
    """Every schema as a bundle file: ``schemas/<name>`` -> its bytes, as stored."""
    return {
        f"schemas/{name}": (DIRECTORY / name).read_bytes()
        for name in sorted(set(FILE_SCHEMAS.values()))
    }
