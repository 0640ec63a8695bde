"""Deterministic JSON, JSONL and GraphML; MAI's summary shape."""

import io
import math

import networkx as nx
import numpy as np

from moralgraph.export import build_bundle
from moralgraph.export.formats import graphml_bytes, json_line, jsonable, jsonl_bytes, mai_summary
from tests.export_support import real_result, tiny_inputs


def test_floats_are_rounded_and_non_finite_ones_become_null():
    assert jsonable(1 / 3) == 0.3333333333
    assert jsonable(-1e-12) == 0.0 and math.copysign(1, jsonable(-1e-12)) == 1
    assert jsonable([float("nan"), float("inf")]) == [None, None]
    assert jsonable({"a": np.float64(0.5), "b": np.int64(3), "c": (1, 2)}) == {
        "a": 0.5,
        "b": 3,
        "c": [1, 2],
    }


def test_json_lines_sort_keys_and_end_every_line():
    assert json_line({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert jsonl_bytes([{"x": 1}, {"x": 2}]) == b'{"x":1}\n{"x":2}\n'
    assert jsonl_bytes([]) == b""


def test_mai_summary_keeps_only_kept_edges_and_the_values_they_touch():
    values = [
        {"id": "v1", "title": "A", "description": "a", "policies": ["P"]},
        {"id": "v2", "title": "B", "description": "b", "policies": []},
        {"id": "v3", "title": "C", "description": "c", "policies": []},
    ]
    counts = {
        "markedWiser": 2,
        "markedNotWiser": 0,
        "markedLessWise": 0,
        "markedUnsure": 0,
        "impressions": 2,
    }
    summary = {"wiserLikelihood": 1.0, "entropy": 0.0}
    edges = [
        {"sourceValueId": "v1", "wiserValueId": "v2", "contexts": ["When"], "counts": counts,
         "summary": summary, "kept": True, "raters": 2},
        {"sourceValueId": "v2", "wiserValueId": "v3", "contexts": ["When"], "counts": counts,
         "summary": summary, "kept": False, "raters": 2},
    ]  # fmt: skip
    graph = mai_summary(values, edges, {"v2": 0.2})
    assert [v["id"] for v in graph["values"]] == ["v1", "v2"]
    assert graph["values"][1]["pageRank"] == 0.2 and graph["values"][0]["pageRank"] == 0.0
    assert graph["edges"] == [
        {
            "sourceValueId": "v1",
            "wiserValueId": "v2",
            "contexts": ["When"],
            "counts": counts,
            "summary": summary,
        }
    ]


def test_graphml_reads_back_as_the_per_context_multigraph():
    files = build_bundle(tiny_inputs(result=real_result()))
    graph = nx.read_graphml(io.BytesIO(files["graph.graphml"]), force_multigraph=True)
    assert sorted(graph.nodes) == ["v1", "v2", "v3", "v4"]
    assert graph.nodes["v2"]["title"] == "Gentle Presence"
    data = graph.get_edge_data("v1", "v2")
    assert {d["context_id"] for d in data.values()} == {"c10"}
    (attrs,) = data.values()
    assert attrs["wiser"] == 8 and attrs["kept"] is True


def test_graphml_is_the_same_bytes_every_time():
    values = [
        {"id": "v1", "title": "A", "description": "", "policies": ["P"], "card_count": 1},
        {"id": "v2", "title": "B", "description": "", "policies": [], "card_count": 0},
    ]
    counts = {"wiser": 2, "not_wiser": 0, "less_wise": 0, "unsure": 0, "impressions": 2,
              "raters": 2}  # fmt: skip
    edges = [
        {"context_id": "c1", "from_value_id": "v1", "to_value_id": "v2", "counts": counts,
         "wiser_likelihood": 1.0, "entropy": 0.0, "kept": True},
    ]  # fmt: skip
    first = graphml_bytes(values, edges, {"v2": 0.15})
    assert first == graphml_bytes(values, edges, {"v2": 0.15})
    assert b'id="c1:v1:v2"' in first


def test_graphml_escapes_markup_and_drops_characters_xml_forbids():
    values = [
        {"id": "v1", "title": 'Care <b>&</b> "candour"\x01', "description": "line\nbreak",
         "policies": ["A & B"], "card_count": 0},
    ]  # fmt: skip
    graph = nx.read_graphml(io.BytesIO(graphml_bytes(values, [], {})))
    assert graph.nodes["v1"]["title"] == 'Care <b>&</b> "candour"'
    assert graph.nodes["v1"]["description"] == "line\nbreak"
    assert graph.nodes["v1"]["policies"] == '["A & B"]'
    assert graph.nodes["v1"]["page_rank"] == 0.0
