"""How closely our embedding-only deduplication groups MAI's DFT cards the way MAI did.

Reads ../shared/data/mai-dft in place: valuesCard.json (630 cards), deduplication.json
(card -> deduplicated card, per generation; the latest generation is MAI's grouping). Each card
is embedded as `card_text(title, <description>, evaluationCriteria)` with all-MiniLM-L6-v2,
then grouped as our dedupe would without an LLM judge: in card-id order, a card joins the
value whose founding card is nearest when the cosine similarity reaches the threshold, else it
founds a new value. Prints the adjusted Rand index against MAI for several thresholds; the last
line is the best one.

    .venv/bin/python bench/dedupe_agreement.py [--data DIR] [--description short|detailed]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from moralgraph.dedupe import adjusted_rand_index, greedy_groups  # noqa: E402
from moralgraph.reranker.embedding import card_text, embed_texts  # noqa: E402

THRESHOLDS = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
DESCRIPTION_FIELD = {"short": "instructionsShort", "detailed": "instructionsDetailed"}


def mai_grouping(data: Path) -> dict[int, int]:
    """Card id -> deduplicated card id in the latest generation that grouped the card."""
    latest: dict[int, tuple[int, int]] = {}
    for row in json.loads((data / "deduplication.json").read_text()):
        card, generation = row["valuesCardId"], row["generation"]
        if card not in latest or generation > latest[card][0]:
            latest[card] = (generation, row["deduplicatedCardId"])
    return {card: group for card, (_, group) in latest.items()}


def pair_precision_recall(expected: list[int], labels: np.ndarray) -> tuple[float, float]:
    """Of the card pairs we put together, the share MAI did too; and the converse."""
    same_ours = labels[:, None] == labels[None, :]
    truth = np.asarray(expected)
    same_mai = truth[:, None] == truth[None, :]
    off_diagonal = ~np.eye(len(truth), dtype=bool)
    both = (same_ours & same_mai & off_diagonal).sum()
    ours, mai = (same_ours & off_diagonal).sum(), (same_mai & off_diagonal).sum()
    return both / max(ours, 1), both / max(mai, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/mai-dft")
    parser.add_argument("--description", choices=DESCRIPTION_FIELD, default="short")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    truth = mai_grouping(args.data)
    cards = sorted(json.loads((args.data / "valuesCard.json").read_text()), key=lambda c: c["id"])
    cards = [card for card in cards if card["id"] in truth]
    field = DESCRIPTION_FIELD[args.description]
    texts = [card_text(c["title"], c[field] or "", c["evaluationCriteria"] or []) for c in cards]
    started = time.perf_counter()
    vectors = embed_texts(texts)
    seconds = time.perf_counter() - started
    print(f"embedded {len(texts)} cards in {seconds:.1f} s, loading the model included")
    expected = [truth[card["id"]] for card in cards]
    print(f"MAI groups: {len(set(expected))}  description field: {field}")
    print("threshold  groups  ARI     pair-precision  pair-recall")
    results = []
    for threshold in THRESHOLDS:
        labels = greedy_groups(vectors, threshold)
        ari = adjusted_rand_index(expected, labels)
        precision, recall = pair_precision_recall(expected, labels)
        results.append((ari, threshold))
        groups = labels.max() + 1
        print(f"{threshold:9.2f}  {groups:6d}  {ari:.4f}  {precision:14.3f}  {recall:11.3f}")
    ari, threshold = max(results)
    print(f"ARI={ari:.4f} threshold={threshold} cards={len(cards)}")


if __name__ == "__main__":
    main()
