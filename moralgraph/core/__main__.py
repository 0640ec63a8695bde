"""``python -m moralgraph.core votes.jsonl -o rankings.json [--config c.json] [--groups g.json]``

Reads wisdom votes, one JSON object per line (a JSON array file works too), and
writes the deterministic aggregation report of :func:`.report.aggregate`.  Each
record has ``rater_id``, ``from_value``, ``to_value``, ``context`` and ``answer``
(``wiser`` / ``not_wiser`` / ``less_wise`` / ``unsure``); MAI's ``edge.json`` field
names (``userId``, ``fromId``, ``toId``, ``contextId``, ``relationship``) are
accepted as well.  ``--config`` is a JSON object of :class:`.types.Config` fields
(``{"mai": true}`` starts from MAI compatibility); ``--groups`` a JSON object
mapping rater id to group label, for the bridging report.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .report import aggregate, dumps
from .types import MAI_RELATIONSHIPS, Config, Vote, VoteArrays

_ALIASES = {
    "rater_id": ("rater_id", "userId", "rater"),
    "from_value": ("from_value", "fromId"),
    "to_value": ("to_value", "toId"),
    "context": ("context", "contextId"),
    "answer": ("answer", "relationship"),
}


def _field(record: dict[str, Any], name: str, line: int) -> Any:
    for key in _ALIASES[name]:
        if key in record:
            return record[key]
    raise ValueError(f"record {line}: missing {name!r}")


def parse_vote(record: dict[str, Any], line: int = 0) -> Vote:
    """A :class:`Vote` from one record (our names or MAI's); rater ids become strings."""
    answer = _field(record, "answer", line)
    return Vote(
        rater_id=str(_field(record, "rater_id", line)),
        from_value=_field(record, "from_value", line),
        to_value=_field(record, "to_value", line),
        context=str(_field(record, "context", line)),
        answer=MAI_RELATIONSHIPS.get(answer, answer),
    )


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        yield from json.loads(text)
        return
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.pop("mai", False):
        return Config.mai(**data)
    return Config.from_dict(data)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m moralgraph.core", description="Aggregate wisdom votes into rankings."
    )
    parser.add_argument("votes", type=Path, help="JSONL (or JSON array) of vote records")
    parser.add_argument("-o", "--output", type=Path, help="output JSON (default: stdout)")
    parser.add_argument("--config", type=Path, help="JSON object of Config fields")
    parser.add_argument("--groups", type=Path, help="JSON object: rater id -> group")
    args = parser.parse_args(argv)
    votes = VoteArrays.from_votes(
        parse_vote(r, i) for i, r in enumerate(read_records(args.votes), 1)
    )
    groups = None
    if args.groups:
        groups = {str(k): str(v) for k, v in json.loads(args.groups.read_text()).items()}
    text = dumps(aggregate(votes, load_config(args.config), groups=groups))
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
