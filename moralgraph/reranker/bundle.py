"""An exported moral-graph bundle as plain dataclasses, and the vectors the reranker needs from it.

The export writer produces the files read here (one JSON object a line):

* ``values.jsonl``: ``id``, ``title``, ``description``, ``policies``, ``card_count``;
* ``contexts.jsonl``: ``id``, ``name``, ``question_ids``;
* ``context_values.jsonl``: the per-context ranking (``rank``, ``score``, ``winner`` ...);
* ``edges.jsonl``: per-context wisdom edges, ``kept`` when the aggregation kept them;
* ``manifest.json``: ``schema_version`` and ``graph_version`` (extra keys are ignored).

Vectors are computed once per bundle and encoder settings (`bundle_vectors`) and cached on the
bundle, so a server or a long CLI run embeds the contexts and policies a single time.
"""

import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import RerankerConfig
from .embedding import card_text

SCHEMA_VERSION = "1"
_ANCHOR = re.compile(r"\b[A-Z][A-Z'-]+[A-Z]\b")  # three or more capitals: not "AI", "OK"


class BundleError(ValueError):
    """A bundle file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class Value:
    id: str
    title: str
    description: str
    policies: tuple[str, ...]
    card_count: int = 0

    @property
    def text(self) -> str:
        return card_text(self.title, self.description, self.policies)


@dataclass(frozen=True)
class Context:
    id: str
    name: str
    question_ids: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ContextValue:
    context_id: str
    value_id: str
    rank: int
    score: float
    score_method: str = ""
    ci_low: float | None = None
    ci_high: float | None = None
    p_top: float | None = None
    contested: bool = False
    winner: bool = False


@dataclass(frozen=True)
class Edge:
    context_id: str
    from_value_id: str
    to_value_id: str
    counts: dict[str, int] = field(default_factory=dict, hash=False)
    wiser_likelihood: float = 0.0
    entropy: float = 0.0
    kept: bool = False


@dataclass(eq=False)  # identity equality, so a bundle can key caches
class Bundle:
    values: dict[str, Value]
    contexts: dict[str, Context]
    rankings: dict[str, list[ContextValue]]  # context id -> its values, best rank first
    edges: list[Edge]
    graph_version: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    _vectors: dict[tuple, "BundleVectors"] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_records(
        cls,
        *,
        values: Sequence[Value],
        contexts: Sequence[Context],
        context_values: Sequence[ContextValue],
        edges: Sequence[Edge] = (),
        graph_version: str = "",
        manifest: dict[str, Any] | None = None,
    ) -> "Bundle":
        """Index the records; every id a ranking or edge names must exist."""
        by_id = {value.id: value for value in values}
        by_context = {context.id: context for context in contexts}
        rankings: dict[str, list[ContextValue]] = {context.id: [] for context in contexts}
        for row in context_values:
            _require(
                row.context_id in by_context, f"ranking names unknown context {row.context_id}"
            )
            _require(row.value_id in by_id, f"ranking names unknown value {row.value_id}")
            rankings[row.context_id].append(row)
        for edge in edges:
            _require(
                edge.from_value_id in by_id and edge.to_value_id in by_id,
                f"edge {edge.from_value_id} -> {edge.to_value_id} names an unknown value",
            )
        for rows in rankings.values():
            rows.sort(key=lambda row: (row.rank, row.value_id))
        return cls(by_id, by_context, rankings, list(edges), graph_version, manifest or {})

    def top_values(self, context_id: str, k: int) -> list[ContextValue]:
        return self.rankings.get(context_id, [])[:k]

    def winner(self, context_id: str) -> ContextValue | None:
        rows = self.rankings.get(context_id, [])
        return next((row for row in rows if row.winner), rows[0] if rows else None)

    def superseded(self, context_id: str) -> list[str]:
        """Values the context's winner is wiser than: `from_value_id` of kept edges into it."""
        winner = self.winner(context_id)
        if winner is None:
            return []
        found = {
            edge.from_value_id
            for edge in self.edges
            if edge.kept and edge.context_id == context_id and edge.to_value_id == winner.value_id
        }
        return sorted(found - {winner.value_id})

    def policies(self) -> list[str]:
        """Every distinct policy in the bundle, in a stable order."""
        return sorted({policy for value in self.values.values() for policy in value.policies})


@dataclass(frozen=True)
class BundleVectors:
    context_ids: tuple[str, ...]
    contexts: np.ndarray  # (contexts, dim), one row per context id
    policy_index: dict[str, int]  # policy text -> row of `policies`
    policies: np.ndarray  # (policies, dim), anchor-emphasised, normalised


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle directory; raise `BundleError` naming the file and line at fault."""
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root}: not a bundle directory")
    manifest = _read_manifest(root / "manifest.json")
    return Bundle.from_records(
        values=[_value(row) for row in _rows(root / "values.jsonl")],
        contexts=[_context(row) for row in _rows(root / "contexts.jsonl")],
        context_values=[_context_value(row) for row in _rows(root / "context_values.jsonl")],
        edges=[_edge(row) for row in _rows(root / "edges.jsonl", required=False)],
        graph_version=str(manifest.get("graph_version", "")),
        manifest=manifest,
    )


def anchor_text(policy: str) -> str:
    """The ALL-CAPS anchor words of an attentional policy ("MOMENTS when ..." -> "MOMENTS")."""
    return " ".join(_ANCHOR.findall(policy))


def bundle_vectors(bundle: Bundle, encoder: Any, config: RerankerConfig) -> BundleVectors:
    """Context and policy vectors for `bundle`, computed once per encoder settings."""
    key = (
        config.device,
        config.anchor_emphasis,
        config.context_value_weight,
        config.top_k_values,
    )
    with bundle._lock:
        if key not in bundle._vectors:
            bundle._vectors[key] = _compute_vectors(bundle, encoder, config)
        return bundle._vectors[key]


def policy_vectors(encoder: Any, policies: Sequence[str], emphasis: float) -> np.ndarray:
    """normalise(e(policy) + emphasis * e(anchor words)); policies without anchors unchanged."""
    anchors = [anchor_text(policy) for policy in policies]
    have = [i for i, anchor in enumerate(anchors) if anchor]
    plain = encoder.encode_texts(list(policies))
    if not have or not emphasis:
        return plain
    anchor_vectors = np.zeros_like(plain)
    anchor_vectors[have] = encoder.encode_texts([anchors[i] for i in have])
    return emphasise(plain, anchor_vectors, emphasis)


def emphasise(plain: np.ndarray, anchors: np.ndarray, emphasis: float) -> np.ndarray:
    """normalise(plain + emphasis * anchors), row by row (zero anchor rows leave a row as is)."""
    mixed = plain + emphasis * anchors
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


def _compute_vectors(bundle: Bundle, encoder: Any, config: RerankerConfig) -> BundleVectors:
    context_ids = tuple(bundle.contexts)
    names = encoder.encode_texts([bundle.contexts[cid].name for cid in context_ids])
    if config.context_value_weight and bundle.values:
        value_ids = list(bundle.values)
        cards = dict(
            zip(
                value_ids,
                encoder.encode_texts([bundle.values[v].text for v in value_ids]),
                strict=True,
            )
        )
        for row, cid in enumerate(context_ids):
            top = [cards[cv.value_id] for cv in bundle.top_values(cid, config.top_k_values)]
            if top:
                names[row] += config.context_value_weight * np.mean(top, axis=0)
        names /= np.linalg.norm(names, axis=1, keepdims=True)
    policies = bundle.policies()
    return BundleVectors(
        context_ids=context_ids,
        contexts=names,
        policy_index={policy: i for i, policy in enumerate(policies)},
        policies=policy_vectors(encoder, policies, config.anchor_emphasis),
    )


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}: not JSON: {exc}") from exc
    _require(isinstance(manifest, dict), f"{path}: expected a JSON object")
    return manifest


def _rows(path: Path, *, required: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
    if not path.exists():
        if required:
            raise BundleError(f"{path}: missing")
        return
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BundleError(f"{where}: not JSON: {exc}") from exc
            _require(isinstance(row, dict), f"{where}: expected a JSON object")
            yield where, row


def _value(item: tuple[str, dict[str, Any]]) -> Value:
    where, row = item
    policies = _field(where, row, "policies", list)
    _require(all(isinstance(p, str) for p in policies), f"{where}: policies must be strings")
    return Value(
        id=str(_field(where, row, "id")),
        title=str(row.get("title", "")),
        description=str(row.get("description", "")),
        policies=tuple(p for p in policies if p.strip()),
        card_count=int(row.get("card_count") or 0),
    )


def _context(item: tuple[str, dict[str, Any]]) -> Context:
    where, row = item
    return Context(
        id=str(_field(where, row, "id")),
        name=str(_field(where, row, "name")),
        question_ids=tuple(row.get("question_ids") or ()),
    )


def _context_value(item: tuple[str, dict[str, Any]]) -> ContextValue:
    where, row = item
    return ContextValue(
        context_id=str(_field(where, row, "context_id")),
        value_id=str(_field(where, row, "value_id")),
        rank=int(_field(where, row, "rank")),
        score=float(row.get("score") or 0.0),
        score_method=str(row.get("score_method", "")),
        ci_low=_optional_float(row.get("ci_low")),
        ci_high=_optional_float(row.get("ci_high")),
        p_top=_optional_float(row.get("p_top")),
        contested=bool(row.get("contested", False)),
        winner=bool(row.get("winner", False)),
    )


def _edge(item: tuple[str, dict[str, Any]]) -> Edge:
    where, row = item
    return Edge(
        context_id=str(_field(where, row, "context_id")),
        from_value_id=str(_field(where, row, "from_value_id")),
        to_value_id=str(_field(where, row, "to_value_id")),
        counts=dict(row.get("counts") or {}),
        wiser_likelihood=float(row.get("wiser_likelihood") or 0.0),
        entropy=float(row.get("entropy") or 0.0),
        kept=bool(row.get("kept", False)),
    )


def _field(where: str, row: dict[str, Any], name: str, kind: type | None = None) -> Any:
    _require(name in row and row[name] is not None, f"{where}: missing {name!r}")
    if kind is not None:
        _require(isinstance(row[name], kind), f"{where}: {name!r} must be a {kind.__name__}")
    return row[name]


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BundleError(message)
