"""Values reranker speed: latency of one request (8 candidates of ~250 tokens) and throughput.

The bundle is MAI's canonical values (``mai-dft/canonicalValuesCard.json``, evaluationCriteria as
policies) spread over MAI's contexts with seeded rankings and kept edges, so retrieval, the
hubness term (every policy) and supersession all run; the abstain threshold is off so that every
request is scored (an abstaining request skips the candidates and is much faster). Candidates are
real assistant replies from ``wise-dataset/val.jsonl`` (tags removed) cut at 250 tokens; no two
requests share a candidate, so nothing is served from a cache.

* latency: ``Reranker.rerank(prompt, 8 candidates)`` end to end (retrieval included), median and
  p95 over ``--runs`` runs after ``--warmup`` runs;
* throughput: ``rerank_many`` over ``--rows`` requests at once, context retrieval included;
  pairs/s = candidates scored per second; then the encoder's share alone (tokenize once, chunk,
  length-sorted batches), which is what the GPU accelerates: the rest is NumPy on the host.

Targets: CPU <= 1.5 s per request; CUDA (H100, bf16) >= 25,000 pairs/s at 256 tokens.

    .venv/bin/python bench/rerank_speed.py [--device cpu|cuda] [--runs 20] [--rows N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moralgraph.reranker.api import Reranker  # noqa: E402
from moralgraph.reranker.bundle import Bundle, Context, ContextValue, Edge, Value  # noqa: E402
from moralgraph.reranker.chunking import chunk_candidates  # noqa: E402
from moralgraph.reranker.config import RerankerConfig  # noqa: E402
from moralgraph.reranker.encoder import ChunkEncoder  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TAG = re.compile(r"<value\b[^>]*>(.*?)</value>", re.S)
TOKENS = 250
CANDIDATES = 8
CPU_TARGET_S = 1.5
GPU_TARGET_PAIRS = 25_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rows", type=int, default=None, help="default: 16 on CPU, 2048 on CUDA")
    args = parser.parse_args()
    device = args.device or default_device()
    config = RerankerConfig(device=device, abstain_below=-1.0)  # every request is scored
    encoder = ChunkEncoder(device, config.effective_batch_size)
    reranker = Reranker(mai_bundle(), config, encoder)
    prompts, replies = wise_prompts_and_replies(encoder)
    rows = args.rows or (2048 if encoder.cuda else 16)
    print(
        f"device {device} ({encoder.device_name()}), batch {config.effective_batch_size}, "
        f"{len(reranker.bundle.values)} values, {len(reranker.vectors.policy_index)} policies"
    )

    requests = [
        (
            prompts[i % len(prompts)],
            [replies[(i * CANDIDATES + j) % len(replies)] for j in range(CANDIDATES)],
        )
        for i in range(args.warmup + args.runs)
    ]
    lengths = [len(ids) for ids in encoder.tokenize([c for _, cs in requests for c in cs])]
    latencies = []
    for at, (prompt, candidates) in enumerate(requests):
        started = time.perf_counter()
        reranker.rerank(prompt, candidates)
        synchronize(encoder)
        if at >= args.warmup:
            latencies.append(time.perf_counter() - started)
    median = statistics.median(latencies)
    p95 = float(np.quantile(latencies, 0.95))
    print(
        f"latency ({args.runs} runs, {CANDIDATES} candidates of {np.mean(lengths):.0f} "
        f"tokens): median {median:.3f}s  p95 {p95:.3f}s  ({CANDIDATES / median:.0f} pairs/s)"
    )

    batch = [
        (
            prompts[i % len(prompts)],
            [replies[(i * CANDIDATES + j + 7) % len(replies)] for j in range(CANDIDATES)],
        )
        for i in range(rows)
    ]
    reranker.rerank_many(batch[: max(1, rows // 8)])  # warm-up at a similar shape
    synchronize(encoder)
    started = time.perf_counter()
    results = reranker.rerank_many(batch)
    synchronize(encoder)
    elapsed = time.perf_counter() - started
    pairs = sum(len(r.scores) for r in results)
    pairs_per_s = pairs / elapsed
    print(
        f"throughput: {rows} requests x {CANDIDATES} in {elapsed:.2f}s = {pairs_per_s:,.0f} pairs/s"
    )
    texts = [c for _, cs in batch for c in cs]
    started = time.perf_counter()
    encoder.encode_ids(chunk_candidates(texts, encoder.tokenizer, config).ids)
    synchronize(encoder)
    encode_only = len(texts) / (time.perf_counter() - started)
    print(f"of which tokenize + chunk + encode alone: {encode_only:,.0f} pairs/s")
    if encoder.cuda:
        verdict = f"target>={GPU_TARGET_PAIRS} ratio={pairs_per_s / GPU_TARGET_PAIRS:.2f}"
    else:
        verdict = f"target<={CPU_TARGET_S}s ratio={median / CPU_TARGET_S:.2f}"
    print(
        f"device={device} latency_8x250_s={median:.3f} p95_s={p95:.3f} "
        f"pairs_per_s={pairs_per_s:.0f} {verdict}"
    )


def default_device() -> str:
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def synchronize(encoder: ChunkEncoder) -> None:
    if encoder.cuda:
        import torch

        torch.cuda.synchronize()


def mai_bundle(seed: int = 0) -> Bundle:
    """MAI's canonical values over MAI's contexts, with seeded rankings and kept edges."""
    cards = json.loads((DATA / "mai-dft" / "canonicalValuesCard.json").read_text())
    names = [row["id"] for row in json.loads((DATA / "mai-dft" / "context.json").read_text())]
    values = [
        Value(
            f"v{card['id']}",
            card["title"],
            card.get("instructionsShort", ""),
            tuple(card["evaluationCriteria"]),
        )
        for card in cards
    ]
    contexts = [Context(f"c{i}", name) for i, name in enumerate(names)]
    rng = np.random.default_rng(seed)
    rankings, edges = [], []
    for context in contexts:
        picked = rng.choice(len(values), 6, replace=False)
        scores = np.sort(rng.random(6))[::-1]
        for rank, (i, score) in enumerate(zip(picked, scores, strict=True), start=1):
            rankings.append(
                ContextValue(context.id, values[i].id, rank, float(score), winner=rank == 1)
            )
        edges.append(Edge(context.id, values[picked[5]].id, values[picked[0]].id, kept=True))
    return Bundle.from_records(
        values=values,
        contexts=contexts,
        context_values=rankings,
        edges=edges,
        graph_version="bench",
    )


def wise_prompts_and_replies(encoder: ChunkEncoder) -> tuple[list, list[str]]:
    prompts, replies = [], []
    with (DATA / "wise-dataset" / "val.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            messages = json.loads(line)["messages"]
            prompts.append(messages[:1])
            replies += [TAG.sub(r"\1", m["content"]) for m in messages if m["role"] == "assistant"]
    encoded = encoder.tokenizer(
        replies,
        add_special_tokens=False,
        return_offsets_mapping=True,
        truncation=True,
        max_length=TOKENS,
    )
    cut = []
    for text, offsets in zip(replies, encoded["offset_mapping"], strict=True):
        if len(offsets) >= TOKENS:
            cut.append(text[: offsets[TOKENS - 1][1]])
    return prompts, cut


if __name__ == "__main__":
    main()
