"""README.md: a Hugging Face dataset card whose front matter parses and lists every JSONL."""

import yaml

from moralgraph.export import build_bundle
from moralgraph.export.dataset_card import config_name
from tests.export_support import SALT, VOTES, tiny_inputs


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    head, _, _ = card[4:].partition("\n---\n")
    return yaml.safe_load(head)


def test_front_matter_parses_and_names_the_licence_as_other():
    card = build_bundle(tiny_inputs()).get("README.md").decode()
    meta = front_matter(card)
    assert meta["license"] == "other"
    assert meta["pretty_name"] == "Moral graph: What should an AI attend to in grief?"
    assert "text-generation" in meta["task_categories"]
    assert meta["size_categories"] == ["n<1K"]


def test_configs_list_every_jsonl_file_of_the_bundle():
    files = build_bundle(tiny_inputs(votes=VOTES), salt=SALT)
    meta = front_matter(files["README.md"].decode())
    paths = {c["config_name"]: c["data_files"][0]["path"] for c in meta["configs"]}
    jsonl = sorted(name for name in files if name.endswith(".jsonl"))
    assert sorted(paths.values()) == jsonl
    assert all(config_name(path) == name for name, path in paths.items())
    assert meta["configs"][0] == {
        "config_name": "context_values",
        "data_files": [{"split": "train", "path": "context_values.jsonl"}],
        "default": True,
    }


def test_the_card_describes_method_counts_gate_and_caveats():
    card = build_bundle(tiny_inputs()).get("README.md").decode()
    manifest_version = card.split("Graph version: `")[1].split("`")[0]
    assert len(manifest_version) == 64
    assert "4 values, 2 contexts, 6 edges (3 kept), 11 votes by 4 raters" in card
    assert "The reliability gate passed" in card
    assert "need not sum to 1" in card
    assert "this card grants no licence" in card
    assert "Raw votes were not exported." in card


def test_a_failed_gate_is_stated_with_its_reasons():
    inputs = tiny_inputs()
    inputs.result["reliability"]["gate"] = {
        "publishable": False,
        "failures": ["split-half kappa 0.1 < 0.4"],
    }
    card = build_bundle(inputs)["README.md"].decode()
    assert "did **not** pass" in card
    assert "- split-half kappa 0.1 < 0.4" in card
