"""Serialisations of the bundle: deterministic JSON and JSONL, MAI's graph summary, GraphML.

Pure: no Django. Every writer here gives the same bytes for the same input: keys sorted,
floats rounded to :data:`FLOAT_DIGITS` decimals (``-0.0`` written as ``0.0``, NaN and infinities
as ``null``), rows in the order given (callers sort them), UTF-8, one trailing newline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from moralgraph.core.report import FLOAT_DIGITS

MAI_COUNT_FIELDS = ("markedWiser", "markedNotWiser", "markedLessWise", "markedUnsure")


def jsonable(obj: Any) -> Any:
    """A copy made of plain JSON types: numpy scalars unwrapped, floats rounded, tuples listed."""
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:
        return obj  # the common cases first: this runs once per value of every row
    if kind is float:
        return rounded(obj)
    if kind is dict:
        return {str(key): jsonable(value) for key, value in obj.items()}
    if kind is list or kind is tuple:
        return [jsonable(value) for value in obj]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, Mapping):
        return {str(key): jsonable(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(value) for value in obj]
    if isinstance(obj, float):
        return rounded(float(obj))
    return obj


def rounded(value: float) -> float | None:
    """``value`` as written: FLOAT_DIGITS decimals, ``-0.0`` as ``0.0``, None if not finite."""
    if not math.isfinite(value):
        return None
    near = round(value, FLOAT_DIGITS)
    return 0.0 if near == 0 else near


def json_line(row: Mapping[str, Any]) -> str:
    """One compact JSON object with sorted keys, no newline."""
    return json.dumps(
        jsonable(row), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def jsonl_bytes(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """JSON Lines: one object a line, each line ending in a newline (empty input: no bytes)."""
    return "".join(json_line(row) + "\n" for row in rows).encode()


def json_bytes(obj: Any, *, indent: bool = True) -> bytes:
    """A JSON document with sorted keys and a trailing newline; indented unless told not to
    (Python's fast encoder does not indent, so large documents are written compact)."""
    layout: dict[str, Any] = {"indent": 1} if indent else {"separators": (",", ":")}
    text = json.dumps(jsonable(obj), sort_keys=True, ensure_ascii=False, allow_nan=False, **layout)
    return (text + "\n").encode()


def read_jsonl(data: bytes | str) -> list[dict[str, Any]]:
    text = data.decode() if isinstance(data, bytes) else data
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- graph.json: MAI's MoralGraphSummary ---


def mai_summary(
    values: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    page_rank: Mapping[str, float],
) -> dict[str, Any]:
    """MAI's ``MoralGraphSummary``: the kept pooled edges and the values they touch.

    ``values`` are bundle value rows, ``edges`` pooled edge rows in MAI's field names
    (``sourceValueId``, ``wiserValueId``, ``contexts``, ``counts``, ``summary``, plus ``kept``),
    ``page_rank`` the pooled PageRank by value id. As in MAI's app, only kept edges appear and
    a value appears when a kept edge touches it, with its ``pageRank``.
    """
    kept = [edge for edge in edges if edge["kept"]]
    touched = {edge["sourceValueId"] for edge in kept} | {edge["wiserValueId"] for edge in kept}
    summary_values = [
        {
            "id": value["id"],
            "title": value["title"],
            "description": value["description"],
            "policies": list(value["policies"]),
            "pageRank": page_rank.get(value["id"], 0.0),
        }
        for value in values
        if value["id"] in touched
    ]
    summary_edges = [
        {
            "sourceValueId": edge["sourceValueId"],
            "wiserValueId": edge["wiserValueId"],
            "contexts": list(edge["contexts"]),
            "counts": {name: edge["counts"][name] for name in (*MAI_COUNT_FIELDS, "impressions")},
            "summary": {
                "wiserLikelihood": edge["summary"]["wiserLikelihood"],
                "entropy": edge["summary"]["entropy"],
            },
        }
        for edge in kept
    ]
    return {"values": summary_values, "edges": summary_edges}


# --- graph.graphml ---

GRAPHML_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)
#: GraphML attributes: (for, name, type), written in this order.
NODE_KEYS = (
    ("title", "string"),
    ("description", "string"),
    ("policies", "string"),
    ("card_count", "long"),
    ("page_rank", "double"),
)
EDGE_KEYS = (
    ("context_id", "string"),
    ("wiser", "long"),
    ("not_wiser", "long"),
    ("less_wise", "long"),
    ("unsure", "long"),
    ("impressions", "long"),
    ("raters", "long"),
    ("wiser_likelihood", "double"),
    ("entropy", "double"),
    ("kept", "boolean"),
)
# Characters XML 1.0 forbids; participant text could hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def graphml_bytes(
    values: Sequence[Mapping[str, Any]],
    edges: Sequence[Mapping[str, Any]],
    page_rank: Mapping[str, float],
) -> bytes:
    """GraphML of the per-context multigraph: a node per value, an edge per edge row.

    Edge ids are ``context:from:to``; GraphML holds no lists, so policies are a JSON string.
    Written as text in the order given (a streaming writer: NetworkX's builds a tree of the
    whole graph, minutes at a million edges); ``networkx.read_graphml`` reads it back.
    """
    parts = [GRAPHML_HEAD]
    for kind, keys in (("node", NODE_KEYS), ("edge", EDGE_KEYS)):
        parts += [
            f'  <key id="{kind[0]}_{name}" for="{kind}" attr.name="{name}" attr.type="{type_}"/>\n'
            for name, type_ in keys
        ]
    parts.append('  <graph id="moral-graph" edgedefault="directed">\n')
    for value in values:
        parts.append(_graphml_node(value, page_rank.get(value["id"], 0.0)))
    parts += [_graphml_edge(edge) for edge in edges]
    parts.append("  </graph>\n</graphml>\n")
    return "".join(parts).encode()


def _graphml_node(value: Mapping[str, Any], page_rank: float) -> str:
    data = {
        "title": value["title"],
        "description": value["description"],
        "policies": json.dumps(list(value["policies"]), ensure_ascii=False),
        "card_count": value["card_count"],
        "page_rank": page_rank,
    }
    return f"    <node id={_attr(value['id'])}>{_data('n', NODE_KEYS, data)}</node>\n"


def _graphml_edge(edge: Mapping[str, Any]) -> str:
    source, target, context = edge["from_value_id"], edge["to_value_id"], edge["context_id"]
    data = {
        **edge["counts"],
        "context_id": context,
        "wiser_likelihood": edge["wiser_likelihood"],
        "entropy": edge["entropy"],
        "kept": edge["kept"],
    }
    ids = (
        f"id={_attr(f'{context}:{source}:{target}')} source={_attr(source)} target={_attr(target)}"
    )
    return f"    <edge {ids}>{_data('e', EDGE_KEYS, data)}</edge>\n"


def _data(prefix: str, keys: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> str:
    return "".join(
        f'<data key="{prefix}_{name}">{_text(data[name], type_)}</data>' for name, type_ in keys
    )


def _text(value: Any, type_: str) -> str:
    if type_ == "boolean":
        return "true" if value else "false"
    if type_ == "double":
        number = None if value is None else rounded(float(value))
        return "NaN" if number is None else repr(number)
    if type_ == "long":
        return str(int(value))
    return escape(_NOT_XML.sub("", str(value)))


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("", str(value)))
