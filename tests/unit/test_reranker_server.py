"""The loopback HTTP scorer, started in a thread on a free port."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from moralgraph.reranker.server import make_server
from tests.reranker_support import GRIEF_PROMPT, OFF_TOPIC, PRESENT, tiny_reranker


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    return tiny_reranker(tmp_path_factory.mktemp("bundle"))


@pytest.fixture
def server(reranker):
    server = make_server(reranker, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def call(server, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_server_binds_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"


def test_health_names_the_graph_and_scorer(server, reranker):
    status, body = call(server, "/health")

    assert status == 200
    assert body["status"] == "ok"
    assert body["graph_version"] == reranker.bundle.graph_version
    assert body["scorer_version"] == reranker.config.version


def test_score_answers_the_same_result_as_the_library(server, reranker):
    status, body = call(
        server, "/score", {"prompt": GRIEF_PROMPT, "candidates": [PRESENT, OFF_TOPIC]}
    )

    assert status == 200
    assert body == reranker.rerank(GRIEF_PROMPT, [PRESENT, OFF_TOPIC]).to_dict()
    assert body["scores"][0] > body["scores"][1]


def test_a_bad_request_gets_400_with_the_reason(server):
    status, body = call(server, "/score", {"prompt": GRIEF_PROMPT, "candidates": "not a list"})

    assert status == 400
    assert "'candidates' must be a list of strings" in body["error"]
    assert call(server, "/nope")[0] == 404


def test_the_module_cli_scores_a_jsonl_file_without_django(tmp_path):
    from moralgraph.reranker.__main__ import main
    from tests.reranker_support import write_bundle

    bundle = write_bundle(tmp_path / "bundle")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"id": 1, "prompt": GRIEF_PROMPT, "candidates": [PRESENT]}) + "\n")

    assert main(["score", "--bundle", str(bundle), "--input", str(source), "--out", str(out)]) == 0
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["id"] == 1 and len(row["scores"]) == 1
