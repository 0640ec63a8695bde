"""Cutting candidate responses into chunks, each response tokenized exactly once.

A response is tokenized in one batched call (with character offsets); chunks are spans of those
token ids, so no chunk is tokenized again. With ``sentences`` chunking, a token belongs to the
sentence its first character falls in; sentences shorter than ``min_chunk_tokens`` join their
neighbour and longer than ``max_chunk_tokens`` are cut into overlapping windows. With
``windows`` chunking, the whole response is cut into windows of ``max_chunk_tokens`` every
``window_stride`` tokens. WordPiece splits on whitespace and punctuation, so a sentence cut from
the response has the same ids as the sentence tokenized on its own.
"""

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import RerankerConfig

_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|\n+")


@dataclass(frozen=True)
class Chunks:
    """The chunks of N candidates: candidate i owns rows ``bounds[i]:bounds[i + 1]``."""

    texts: tuple[str, ...]  # the candidates
    ids: tuple[tuple[int, ...], ...]  # token ids of each chunk, without special tokens
    spans: tuple[tuple[int, int], ...]  # character span of each chunk in its candidate
    bounds: np.ndarray  # (N + 1,) chunk offsets
    truncated: tuple[bool, ...]  # whether a candidate was cut at max_candidate_tokens

    def owner_slices(self) -> list[slice]:
        return [
            slice(int(a), int(b)) for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True)
        ]

    def select(self, first: int, last: int) -> "Chunks":
        """The chunks of candidates first..last-1, with bounds rebased to 0."""
        lo, hi = int(self.bounds[first]), int(self.bounds[last])
        return Chunks(
            texts=self.texts[first:last],
            ids=self.ids[lo:hi],
            spans=self.spans[lo:hi],
            bounds=self.bounds[first : last + 1] - lo,
            truncated=self.truncated[first:last],
        )

    def text(self, row: int, owner: int) -> str:
        start, end = self.spans[row]
        return self.texts[owner][start:end]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences (and lines) of `text`, whitespace trimmed."""
    cuts = [0] + [match.end() for match in _SENTENCE_END.finditer(text)] + [len(text)]
    spans = []
    for start, end in zip(cuts[:-1], cuts[1:], strict=True):
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
    return spans


def token_spans(
    text: str, offsets: Sequence[tuple[int, int]], config: RerankerConfig
) -> list[tuple[int, int]]:
    """[start, end) token spans of the chunks of one tokenized response."""
    n = len(offsets)
    if n == 0:
        return [(0, 0)]
    if config.chunking == "windows":
        return windows(0, n, config.max_chunk_tokens, config.window_stride)
    groups = _merge_short(_sentence_groups(text, offsets), config.min_chunk_tokens)
    spans: list[tuple[int, int]] = []
    for start, end in groups:
        spans += windows(start, end, config.max_chunk_tokens, config.window_stride)
    return spans


def windows(start: int, end: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Windows of `size` tokens, every `stride` tokens, over [start, end); the last ends at end."""
    if end - start <= size:
        return [(start, end)]
    spans = [(at, at + size) for at in range(start, end - size, stride)]
    return spans + [(end - size, end)]


def chunk_candidates(texts: Sequence[str], tokenizer: Any, config: RerankerConfig) -> Chunks:
    """Tokenize every candidate once (one batched call) and cut it into chunks."""
    if not texts:
        return Chunks((), (), (), np.zeros(1, dtype=np.int64), ())
    encoded = tokenizer(
        list(texts),
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        truncation=True,
        max_length=config.max_candidate_tokens,
    )
    ids, spans, bounds, truncated = [], [], [0], []
    for text, row_ids, offsets in zip(
        texts, encoded["input_ids"], encoded["offset_mapping"], strict=True
    ):
        for start, end in token_spans(text, offsets, config):
            ids.append(tuple(row_ids[start:end]))
            spans.append((offsets[start][0], offsets[end - 1][1]) if end > start else (0, 0))
        bounds.append(len(ids))
        cut = len(row_ids) >= config.max_candidate_tokens and offsets[-1][1] < len(text.rstrip())
        truncated.append(bool(cut))
    return Chunks(
        texts=tuple(texts),
        ids=tuple(ids),
        spans=tuple(spans),
        bounds=np.asarray(bounds, dtype=np.int64),
        truncated=tuple(truncated),
    )


def _sentence_groups(text: str, offsets: Sequence[tuple[int, int]]) -> list[list[int]]:
    starts = [start for start, _ in sentence_spans(text)] or [0]
    groups: list[list[int]] = []
    previous = None
    for i, (char_start, _) in enumerate(offsets):
        sentence = bisect_right(starts, char_start) - 1
        if sentence != previous:
            groups.append([i, i + 1])
            previous = sentence
        else:
            groups[-1][1] = i + 1
    return groups


def _merge_short(groups: list[list[int]], minimum: int) -> list[tuple[int, int]]:
    """Join each group shorter than `minimum` tokens to the one before it (or after, if first)."""
    merged: list[list[int]] = []
    for start, end in groups:
        if merged and (end - start < minimum or merged[-1][1] - merged[-1][0] < minimum):
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]
