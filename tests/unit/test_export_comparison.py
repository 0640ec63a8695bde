"""comparison.json: two builds' changes under bundle keys, in the bundle and its manifest."""

import json
from dataclasses import replace

import jsonschema
import pytest

from moralgraph.core.compare import compare_builds
from moralgraph.export import BuildRef, ComparisonInput, build_bundle
from moralgraph.export.comparison import comparison_document
from tests.export_support import tiny_inputs, tiny_result, validate_bundle_file

EARLIER = BuildRef(
    id=3, label="wave 1", graph_version="a" * 64, built_at="2026-01-02T03:04:05+00:00", votes=8
)
LATER = BuildRef(
    id=5, label="", graph_version="b" * 64, built_at="2026-02-02T03:04:05+00:00", votes=11
)


def sections(result):
    return {f"context:{pk}": section for pk, section in result["contexts"].items()}


def a_comparison() -> ComparisonInput:
    """Earlier: c10 had no value 2 and its winner was 1, c11 kept 1 -> 3 only, the gate
    failed. Later: the tiny result (2 wins c10, c11 keeps 3 -> 1 too, the gate passes)."""
    later = tiny_result()
    earlier = tiny_result()
    earlier["contexts"][10] = {
        "edges": [
            e
            for e in earlier["contexts"][10]["edges"]
            if 2 not in (e["sourceValueId"], e["wiserValueId"])
        ],
        "ranking": [{"value": 1, "score": 0.1}],
        "winner": {"value": 1, "score": 0.1, "reasons": []},
    }
    earlier["contexts"][11]["edges"] = earlier["contexts"][11]["edges"][:1]
    earlier["reliability"]["gate"] = {"publishable": False, "failures": ["too few raters"]}
    changes = compare_builds((earlier, sections(earlier)), (later, sections(later)))
    return ComparisonInput(earlier=EARLIER, later=LATER, changes=changes)


def test_the_changes_name_values_and_contexts_by_bundle_keys():
    doc = comparison_document(a_comparison())

    assert doc["earlier"]["label"] == "wave 1" and doc["later"]["id"] == 5
    assert doc["contexts"]["c10"]["values_added"] == ["v2", "v4"]
    assert doc["contexts"]["c10"]["edges_appeared"] == [["v1", "v2"]]
    assert doc["contexts"]["c10"]["winner"] == {"before": "v1", "after": "v2"}
    assert doc["contexts"]["c11"]["edges_flipped"] == [["v1", "v3"]]
    assert doc["contexts"]["c11"]["winner_changed"] is False
    assert doc["gate"]["failures_lost"] == ["too few raters"]
    assert doc["totals"]["winners_changed"] == 1


def test_a_bundle_with_a_comparison_lists_it_and_keeps_its_graph_version():
    plain = build_bundle(tiny_inputs())
    compared = build_bundle(replace(tiny_inputs(), comparison=a_comparison()))

    manifest = json.loads(compared["manifest.json"])
    assert "comparison.json" not in plain
    assert "comparison.json" in manifest["files"]
    assert manifest["graph_version"] == json.loads(plain["manifest.json"])["graph_version"]
    assert "`comparison.json`" in compared["README.md"].decode()
    assert validate_bundle_file("comparison.json", compared["comparison.json"]) == 1
    assert build_bundle(replace(tiny_inputs(), comparison=a_comparison())) == compared


def test_a_comparison_naming_a_raw_id_fails_its_schema():
    files = build_bundle(replace(tiny_inputs(), comparison=a_comparison()))
    broken = files["comparison.json"].replace(b'"v2"', b'"2"', 1)

    with pytest.raises(jsonschema.ValidationError):
        validate_bundle_file("comparison.json", broken)
