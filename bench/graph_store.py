"""Reading one value's place from a stored graph: the whole result in one row vs the pieces.

A seeded synthetic study (``bench/aggregate.py``; default 10k values, 100k votes, 50
contexts) is aggregated by the pure core with a small bootstrap, given titles like the Django
side adds, and stored twice in a temporary SQLite database, the way ``JSONField`` stores JSON:

* whole: the entire result in one row (what ``GraphBuild.result`` held);
* pieces: :func:`moralgraph.core.split_result`: a summary row and one row per section.

Then one value (mid-ranking in the context with the most edges, the worst case for pieces) is
placed the way the results page does it: old, select the whole row, ``json.loads`` it and call
:func:`value_position`; new, select the summary and that one section. The median of a few runs
is reported. The last line reads
``whole_s=... section_s=... speedup=...x whole_mb=... largest_section_mb=...``.

    .venv/bin/python bench/graph_store.py [--values N] [--votes N] [--contexts N]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.aggregate import synthetic_study  # noqa: E402
from moralgraph.core import (  # noqa: E402
    GLOBAL_SECTION,
    Config,
    VoteArrays,
    aggregate,
    dumps,
    section_key,
    split_result,
    value_position,
)

MB = 1_000_000


def built_result(n_values: int, n_votes: int, n_contexts: int) -> dict[str, Any]:
    """The study's result as ``GraphBuild`` got it: ``dumps`` read back, with labels."""
    study = synthetic_study(n_values, n_votes, n_contexts)
    columns = (study[key] for key in ("rater", "src", "dst", "context", "answer"))
    votes = VoteArrays.from_columns(*columns)
    result = aggregate(votes, Config(bootstrap_samples=5, split_half_repeats=2))
    result["labels"] = {
        "values": {v: f"Value {v}: a title of about forty characters" for v in votes.values},
        "contexts": {c: f"When the user faces situation {c}" for c in votes.contexts},
    }
    return json.loads(dumps(result))


def store(db: sqlite3.Connection, result: dict[str, Any]) -> dict[str, int]:
    """Both layouts in ``db``; the size in bytes of each stored text, by key."""
    summary, sections = split_result(result)
    texts = {"whole": json.dumps(result), "summary": json.dumps(summary)}
    texts.update({key: json.dumps(data) for key, data in sections.items()})
    db.execute("create table piece (key text primary key, data text)")
    db.executemany("insert into piece values (?, ?)", texts.items())
    db.commit()
    return {key: len(text.encode()) for key, text in texts.items()}


def loaded(db: sqlite3.Connection, key: str) -> Any:
    (text,) = db.execute("select data from piece where key = ?", (key,)).fetchone()
    return json.loads(text)


def place_from_whole(db: sqlite3.Connection, value_id: int, context_id: str) -> object:
    whole = loaded(db, "whole")
    labels = {"labels": whole["labels"]}
    context = {**whole["contexts"][context_id], **labels}
    return value_position(context, {**whole["global"], **labels}, value_id)


def place_from_section(db: sqlite3.Connection, value_id: int, context_id: str) -> object:
    summary = loaded(db, "summary")
    assert summary["contexts"][context_id]["ranked"]  # so the global section is not needed
    return value_position(loaded(db, section_key(context_id)), None, value_id)


def timed(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, answer = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        answer = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--values", type=int, default=10_000)
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--contexts", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    result = built_result(args.values, args.votes, args.contexts)
    print(f"aggregated {args.votes} votes in {time.perf_counter() - start:.1f} s")
    busiest = max(result["contexts"], key=lambda cid: len(result["contexts"][cid]["edges"]))
    ranking = result["contexts"][busiest]["ranking"]
    value_id = ranking[len(ranking) // 2]["value"]

    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "graph.sqlite3")
        sizes = store(db, result)
        whole_s, old = timed(lambda: place_from_whole(db, value_id, busiest), args.repeats)
        section_s, new = timed(lambda: place_from_section(db, value_id, busiest), args.repeats)
        db.close()
    assert old == new, (old, new)

    contexts = [size for key, size in sizes.items() if key.startswith("context:")]
    largest = max(size for key, size in sizes.items() if key not in ("whole", "summary"))
    print(
        f"whole {sizes['whole'] / MB:.1f} MB; summary {sizes['summary'] / MB:.3f} MB; "
        f"global section {sizes[GLOBAL_SECTION] / MB:.1f} MB; {len(contexts)} context sections, "
        f"largest {max(contexts) / MB:.2f} MB, median {statistics.median(contexts) / MB:.2f} MB"
    )
    print(f"value {value_id} in context {busiest}: rank {old.rank} of {old.ranked}")  # type: ignore[union-attr]
    print(
        f"whole_s={whole_s:.4f} section_s={section_s:.4f} speedup={whole_s / section_s:.1f}x "
        f"whole_mb={sizes['whole'] / MB:.1f} largest_section_mb={largest / MB:.1f}"
    )


if __name__ == "__main__":
    main()
