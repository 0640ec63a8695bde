"""Responses are tokenized once and cut into sentence or window chunks of token ids."""

import numpy as np
import pytest

from moralgraph.reranker.chunking import chunk_candidates, sentence_spans, windows
from moralgraph.reranker.config import RerankerConfig
from moralgraph.reranker.embedding import embed_texts
from tests.reranker_support import shared_encoder


@pytest.fixture(scope="module")
def chunk_encoder():
    return shared_encoder()


TEXT = "I'm sorry for your loss. It must be hard!\n\nWould you like to talk about him?  Yes."


def test_sentences_split_at_end_marks_and_line_breaks_with_spans_trimmed():
    spans = sentence_spans(TEXT)

    assert [TEXT[a:b] for a, b in spans] == [
        "I'm sorry for your loss.",
        "It must be hard!",
        "Would you like to talk about him?",
        "Yes.",
    ]


def test_windows_cover_the_span_and_the_last_one_ends_at_its_end():
    assert windows(0, 10, 64, 48) == [(0, 10)]
    assert windows(0, 150, 64, 48) == [(0, 64), (48, 112), (86, 150)]


def test_short_sentences_join_a_neighbour_and_chunk_ids_match_tokenizing_alone(chunk_encoder):
    chunks = chunk_candidates([TEXT], chunk_encoder.tokenizer, RerankerConfig())

    texts = [chunks.text(row, 0) for row in range(len(chunks.ids))]
    assert texts == [  # "It must be hard!" and "Yes." are under 6 tokens
        "I'm sorry for your loss. It must be hard!",
        "Would you like to talk about him?  Yes.",
    ]
    assert list(chunks.ids) == [tuple(ids) for ids in chunk_encoder.tokenize(texts)]


def test_window_chunking_cuts_long_responses_into_overlapping_token_windows(chunk_encoder):
    config = RerankerConfig(chunking="windows", max_chunk_tokens=16, window_stride=8)
    long_text = " ".join(f"word{i}" for i in range(40))

    chunks = chunk_candidates([long_text, "short"], chunk_encoder.tokenizer, config)

    first, second = chunks.owner_slices()
    assert all(len(ids) <= 16 for ids in chunks.ids)
    assert first.stop - first.start > 2
    assert chunks.ids[first.start][8:] == chunks.ids[first.start + 1][:8]  # stride 8: overlap
    assert second.stop - second.start == 1


def test_an_empty_candidate_still_gets_one_chunk(chunk_encoder):
    chunks = chunk_candidates(["", "Hello."], chunk_encoder.tokenizer, RerankerConfig())

    assert chunks.bounds.tolist() == [0, 1, 2]
    assert chunks.ids[0] == ()


def test_token_level_vectors_match_the_sentence_transformer_pipeline(chunk_encoder):
    texts = ["Helping someone hear their own reasons.", "tax law", ""]

    assert chunk_encoder.encode_texts(texts) == pytest.approx(embed_texts(texts), abs=1e-5)


def test_repeated_sequences_are_encoded_once_and_cached_when_asked(chunk_encoder):
    from moralgraph.reranker.encoder import ChunkEncoder

    cached = ChunkEncoder(cache_size=2)
    first = cached.encode_texts(["a b c", "a b c", "d e f"])

    assert len(cached._cache) == 2
    assert (first[0] == first[1]).all()
    assert (cached.encode_texts(["d e f"])[0] == first[2]).all()


def test_batches_are_length_sorted_and_capped_by_rows_and_padded_tokens(chunk_encoder):
    from moralgraph.reranker.encoder import ChunkEncoder

    encoder = ChunkEncoder(batch_size=3, max_batch_tokens=30)
    sequences = [(1,) * 18, (1,) * 3, (1,) * 8, (1,) * 2, (1,) * 1]
    order = sorted(range(5), key=lambda i: -len(sequences[i]))

    batches = encoder._batches(order, sequences)

    # with [CLS] and [SEP]: 2 x 20 tokens overflow 30, 3 x 10 fit; then 3 rows is the cap
    assert batches == [[0], [2, 1, 3], [4]]


def test_the_gpu_numerics_bf16_autocast_keep_vectors_and_their_neighbours(chunk_encoder):
    """The CUDA path's bfloat16 autocast, run on CPU: cosines to float32 within 0.01, and
    every text keeps its nearest other text."""
    from moralgraph.reranker.encoder import ChunkEncoder

    texts = [
        "Helping someone hear their own reasons before they decide.",
        "Helping a person listen to their own reasons.",
        "Respecting that the choice is theirs to make.",
        "Letting them own the decision.",
        "The tax code changed in 2017.",
        "Tax rules were revised that year.",
        "Staying with grief instead of rushing to fix it.",
        "short",
    ]
    exact = chunk_encoder.encode_texts(texts)
    halved = ChunkEncoder(bf16=True, batch_size=3).encode_texts(texts)

    def nearest(vectors):
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -1)
        return similarity.argmax(1).tolist()

    assert halved.dtype == exact.dtype
    assert (halved * exact).sum(1) == pytest.approx(1.0, abs=0.01)
    assert nearest(halved) == nearest(exact)


def test_device_names_are_checked_before_any_model_is_loaded(monkeypatch):
    import torch

    from moralgraph.reranker.embedding import EncoderUnavailable, check_device

    check_device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    check_device("cuda:0")
    with pytest.raises(EncoderUnavailable, match="only 1 CUDA GPU"):
        check_device("cuda:3")
    with pytest.raises(EncoderUnavailable, match="Unknown device 'cuda:x'"):
        check_device("cuda:x")
