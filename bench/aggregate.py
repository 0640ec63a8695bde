"""Aggregation at scale: the columnar fast path against a NetworkX-per-vote baseline.

A seeded synthetic study (default 100k values, 1M votes, 50 contexts, about three
votes per rater) is aggregated twice in one process:

* fast: encode the columns (``VoteArrays.from_columns``), summarise edges globally
  and per context, MAI PageRank on the global graph and on every context graph;
* naive: the same counts accumulated on ``nx.DiGraph`` edges one vote at a time in
  a Python loop, MAI's likelihood/entropy filter per edge, then ``nx.pagerank`` on
  the global and every context graph.

Bradley-Terry (fit + a few bootstrap samples) is timed separately.  The last line
reads ``fast_s=... naive_s=... speedup=...x``.

    .venv/bin/python bench/aggregate.py [--values N] [--votes N] [--contexts N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moralgraph.core import (  # noqa: E402
    Config,
    VoteArrays,
    bradley_terry,
    bt_bootstrap,
    rank_edges,
    summarize_edges,
)
from moralgraph.core.types import ANSWERS  # noqa: E402


def synthetic_study(n_values: int, n_votes: int, n_contexts: int, seed: int = 0) -> dict:
    """Hypotheses between random values; answers from a latent wisdom score."""
    rng = np.random.default_rng(seed)
    n_hyp = max(n_votes // 5, n_values, 1)
    ctx = rng.integers(0, n_contexts, n_hyp)
    a = rng.integers(0, n_values, n_hyp)
    a[:n_values] = rng.permutation(n_values)  # every value is in some hypothesis
    b = (a + rng.integers(1, n_values, n_hyp)) % n_values
    pick = rng.integers(0, n_hyp, n_votes)
    wisdom = rng.normal(size=n_values)
    p_wiser = 1 / (1 + np.exp(-(wisdom[b[pick]] - wisdom[a[pick]] + 1.5)))
    answer = np.where(rng.random(n_votes) < p_wiser, 0, 1).astype(np.int8)
    answer[rng.random(n_votes) < 0.2] = 3
    answer[rng.random(n_votes) < 0.02] = 2
    return {
        "rater": rng.integers(0, max(n_votes // 3, 1), n_votes),
        "src": a[pick],
        "dst": b[pick],
        "context": ctx[pick],
        "answer": answer,
    }


def fast(study: dict, config: Config) -> tuple[VoteArrays, dict]:
    votes = VoteArrays.from_columns(
        study["rater"], study["src"], study["dst"], study["context"], study["answer"]
    )
    global_table = summarize_edges(votes, config, by_context=False)
    context_table = summarize_edges(votes, config)
    return votes, {
        "global": rank_edges(global_table, config),
        "contexts": rank_edges(context_table, config),
        "kept": int(global_table.kept.sum()),
    }


def _entropy(counts: list[int]) -> float:
    total = sum(counts)
    return -sum(c / total * math.log2(c / total) for c in counts if c) if total else 0.0


def _bump(graph: nx.DiGraph, u: int, v: int, field: str | None) -> None:
    if not graph.has_edge(u, v):
        graph.add_edge(u, v, wiser=0, not_wiser=0, less_wise=0, unsure=0, impressions=0)
    data = graph[u][v]
    data["impressions"] += 1
    if field:
        data[field] += 1


def _kept_graph(graph: nx.DiGraph, config: Config) -> nx.DiGraph:
    kept = nx.DiGraph()
    for u, v, d in graph.edges(data=True):
        counts = [d["wiser"], d["not_wiser"], d["less_wise"], d["unsure"]]
        total = sum(counts)
        likelihood = (d["wiser"] - d["less_wise"]) / total if total else 0.0
        if (
            d["wiser"] >= config.min_wiser
            and likelihood >= config.min_likelihood
            and _entropy(counts) <= config.max_entropy
        ):
            kept.add_edge(u, v, weight=likelihood)
    return kept


def naive(study: dict, config: Config) -> dict:
    graphs: dict[object, nx.DiGraph] = {None: nx.DiGraph()}
    reverse = {"wiser": "less_wise", "less_wise": "wiser"}
    columns = (study[k].tolist() for k in ("src", "dst", "context", "answer"))
    for a, b, c, code in zip(*columns, strict=True):
        field = ANSWERS[code]
        for key in (None, c):
            graph = graphs.get(key)
            if graph is None:
                graph = graphs[key] = nx.DiGraph()
            _bump(graph, a, b, field)
            _bump(graph, b, a, reverse.get(field))
    ranks = {}
    for key, graph in graphs.items():
        kept = _kept_graph(graph, config)
        ranks[key] = nx.pagerank(kept, alpha=config.damping) if len(kept) else {}
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--contexts", type=int, default=50)
    parser.add_argument("--bootstrap", type=int, default=5)
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()
    config = Config()
    study = synthetic_study(args.values, args.votes, args.contexts)

    start = time.perf_counter()
    votes, result = fast(study, config)
    fast_s = time.perf_counter() - start
    print(
        f"fast: {votes.n_votes} votes, {votes.n_values} values, {votes.n_contexts} contexts, "
        f"{result['kept']} kept global edges, {len(result['contexts'])} ranked "
        f"(context, value) nodes in {fast_s:.2f} s"
    )

    start = time.perf_counter()
    data, fit = bradley_terry(votes, config)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    bt_bootstrap(data, fit, samples=args.bootstrap, rng=np.random.default_rng(config.seed))
    boot_s = time.perf_counter() - start
    print(
        f"bradley_terry: fit {fit_s:.2f} s ({len(fit.theta)} nodes, converged={fit.converged}); "
        f"bootstrap {args.bootstrap} samples {boot_s:.2f} s "
        f"({boot_s / max(args.bootstrap, 1):.2f} s/sample)"
    )

    if args.skip_naive:
        print(f"fast_s={fast_s:.2f}")
        return
    start = time.perf_counter()
    ranks = naive(study, config)
    naive_s = time.perf_counter() - start
    print(f"naive: {len(ranks)} graphs ranked in {naive_s:.2f} s")
    print(f"fast_s={fast_s:.2f} naive_s={naive_s:.2f} speedup={naive_s / fast_s:.1f}x")


if __name__ == "__main__":
    main()
