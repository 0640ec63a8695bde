"""The bundle's manifest: what is in it, how it was made, and a version for its content.

Pure: no Django. ``graph_version`` identifies the graph, not the export run: it is the
SHA-256 of ``sha256sum``-style lines (``<sha256>  <name>``, sorted by name) over the files in
:data:`moralgraph.export.bundle.GRAPH_FILES`. It leaves out the manifest, the dataset card,
the schemas, ``votes.jsonl`` (whose hashed rater ids change with the salt) and ``training/``,
and no file holds a timestamp, so the same votes and config give the same version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

#: Words on each score the bundle carries, by its ``score_method`` or ``ci_method`` name.
SCORE_ALGORITHMS = {
    "pagerank_mai": (
        "MAI's PageRank over each context's kept edges: damping 0.85, a fixed number of "
        "iterations from uniform, each edge passing mass in proportion to its wiser "
        "likelihood among its source's out-edges, dangling mass not redistributed. Scores "
        "need not sum to 1 and compare only within one context."
    ),
    "pagerank_networkx": (
        "NetworkX PageRank over each context's kept edges, weighted by wiser likelihood, "
        "dangling mass spread uniformly; scores sum to 1 per context."
    ),
    "bradley_terry_bootstrap": (
        "Bradley-Terry strength (bt_theta) per context with an acquiescence intercept for "
        "agreeing with the story; ci_low/ci_high are its bootstrap percentile interval over "
        "raters and p_top the share of bootstrap samples in which the value came out on top."
    ),
}
SCORE_SUM_NOTE = (
    "MAI PageRank scores (score_method pagerank_mai) need not sum to 1: values with no "
    "kept out-edge keep their mass instead of passing it on."
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def graph_version(files: Mapping[str, bytes], names: Iterable[str]) -> str:
    """SHA-256 over ``<sha256>  <name>`` lines of the named files, sorted by name."""
    lines = "".join(f"{sha256_hex(files[name])}  {name}\n" for name in sorted(names))
    return sha256_hex(lines.encode())


def file_record(name: str, data: bytes) -> dict[str, Any]:
    record: dict[str, Any] = {"sha256": sha256_hex(data), "bytes": len(data)}
    if name.endswith(".jsonl"):
        record["rows"] = data.count(b"\n")
    return record


def manifest_head(
    files: Mapping[str, bytes],
    *,
    graph_files: Iterable[str],
    schema_version: str,
    study: Mapping[str, Any],
    result: Mapping[str, Any],
    counts: Mapping[str, Any],
    embedding_model: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything in the manifest except the per-file records (see :func:`with_files`)."""
    names = sorted(graph_files)
    methods = sorted(_methods_used(result))
    gate = result["reliability"]["gate"]
    return {
        "schema_version": schema_version,
        "graph_version": graph_version(files, names),
        "graph_version_files": names,
        "study": dict(study),
        "config": result["config"],
        "counts": dict(counts),
        "score_algorithms": {name: SCORE_ALGORITHMS[name] for name in methods},
        "notes": {"pagerank": result["notes"]["pagerank"], "score_sum": SCORE_SUM_NOTE},
        "reliability_gate": {"publishable": gate["publishable"], "failures": gate["failures"]},
        "embedding_model": dict(embedding_model),
    }


def _methods_used(result: Mapping[str, Any]) -> set[str]:
    pagerank = "pagerank_mai" if result["config"]["pagerank"] == "mai" else "pagerank_networkx"
    return {pagerank, "bradley_terry_bootstrap"}


def with_files(head: Mapping[str, Any], files: Mapping[str, bytes]) -> dict[str, Any]:
    """The manifest: ``head`` plus size, hash (and rows) of every other file, by path."""
    records = {
        name: file_record(name, data)
        for name, data in sorted(files.items())
        if name != "manifest.json"
    }
    return {**head, "files": records}
