"""manifest.json: the content hash, per-file hashes, config, counts, model record, notes."""

import hashlib
import json

from moralgraph.core import Config
from moralgraph.export import GRAPH_FILES, build_bundle, graph_version
from tests.export_support import SALT, VOTES, tiny_inputs, tiny_result


def manifest_of(files):
    return json.loads(files["manifest.json"])


def test_graph_version_hashes_the_graph_files_as_sha256sum_lines():
    files = build_bundle(tiny_inputs())
    lines = "".join(
        f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(GRAPH_FILES)
    )
    expected = hashlib.sha256(lines.encode()).hexdigest()
    assert manifest_of(files)["graph_version"] == expected == graph_version(files, GRAPH_FILES)
    assert manifest_of(files)["graph_version_files"] == sorted(GRAPH_FILES)


def test_graph_version_ignores_votes_salt_and_card_but_follows_the_data():
    plain = manifest_of(build_bundle(tiny_inputs()))["graph_version"]
    with_votes = manifest_of(build_bundle(tiny_inputs(votes=VOTES), salt=SALT))
    other_salt = manifest_of(build_bundle(tiny_inputs(votes=VOTES), salt="another"))
    assert plain == with_votes["graph_version"] == other_salt["graph_version"]
    result = tiny_result()
    result["contexts"][10]["edges"][0]["counts"]["markedWiser"] = 4
    assert manifest_of(build_bundle(tiny_inputs(result=result)))["graph_version"] != plain


def test_every_other_file_is_listed_with_its_sha256_and_size():
    files = build_bundle(tiny_inputs(votes=VOTES), salt=SALT)
    listed = manifest_of(files)["files"]
    assert set(listed) == set(files) - {"manifest.json"}
    for name, record in listed.items():
        assert record["sha256"] == hashlib.sha256(files[name]).hexdigest()
        assert record["bytes"] == len(files[name])
    assert listed["edges.jsonl"]["rows"] == 6
    assert "README.md" in listed and "schemas/values.schema.json" in listed


def test_manifest_records_config_counts_model_and_the_pagerank_note():
    manifest = manifest_of(build_bundle(tiny_inputs(votes=VOTES), salt=SALT))
    assert manifest["schema_version"] == "1"
    assert manifest["config"] == Config.mai().to_dict()
    assert manifest["counts"] == {
        "values": 4,
        "contexts": 2,
        "questions": 2,
        "edges": 6,
        "kept_edges": 3,
        "votes": 11,
        "raters": 4,
        "exported_votes": 3,
        "published_winners": 1,
        "rater_flags": None,
    }
    assert manifest["embedding_model"] == {"name": "test-model", "dimension": 3}
    assert set(manifest["score_algorithms"]) == {"pagerank_mai", "bradley_terry_bootstrap"}
    assert "need not sum to 1" in manifest["notes"]["score_sum"]
    assert manifest["reliability_gate"] == {"publishable": True, "failures": []}
    assert manifest["study"]["slug"] == "grief-study"


def test_no_file_holds_a_timestamp_or_the_salt():
    files = build_bundle(tiny_inputs(votes=VOTES), salt=SALT)
    text = b"".join(files.values()).decode()
    assert SALT not in text
    for word in ("created_at", "generated_at", "timestamp", "2025-", "2026-"):
        assert word not in text


def test_the_embedding_record_loads_no_model():
    import subprocess
    import sys

    code = (
        "import sys; from moralgraph.reranker.embedding import model_record\n"
        "record = model_record()\n"
        "assert record['name'].endswith('all-MiniLM-L6-v2'), record\n"
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
