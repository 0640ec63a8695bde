"""Aggregation results built from a few hand-written votes, stored as a graph build stores them
(the pure core's output through ``dumps`` and back, with the titles the Django side adds)."""

import json
from collections.abc import Iterable, Mapping

import numpy as np

from moralgraph.core import Config, VoteArrays, aggregate, dumps

FAST = Config(bootstrap_samples=20, split_half_repeats=4)

Vote = tuple[str, int, int, int, str]  # rater, less wise value, wiser value, context, answer


def upheld(context: int, source: int, target: int, voters: int = 4) -> list[Vote]:
    """`voters` raters who all find `target` wiser than `source` in `context`."""
    return [(f"r{n}", source, target, context, "wiser") for n in range(voters)]


def stored_result(
    rows: Iterable[Vote], titles: Mapping[int, str], contexts: Mapping[int, str]
) -> dict:
    columns = [np.asarray(column, dtype=object) for column in zip(*rows, strict=True)]
    graph = aggregate(VoteArrays.from_columns(*columns), FAST)
    graph["labels"] = {"values": dict(titles), "contexts": dict(contexts)}
    return json.loads(dumps(graph))
