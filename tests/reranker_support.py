"""A tiny alignment-target bundle for the reranker tests: 2 contexts, 4 values, 2 edges.

In the grief context the winner, Gentle Presence, supersedes Moving On Quickly (a kept edge),
while the edge from Practical Next Steps was not kept.
"""

import json
from pathlib import Path

GRAPH_VERSION = "ab" * 32

VALUES = [
    {
        "id": "v1",
        "title": "Gentle Presence",
        "description": "Staying with someone's grief without rushing to fix it.",
        "policies": [
            "FEELINGS of loss and sadness the person has not yet put into words",
            "MEMORIES of the person who died that the user wants to share",
        ],
        "card_count": 5,
    },
    {
        "id": "v2",
        "title": "Practical Next Steps",
        "description": "Helping with the concrete tasks that pile up after a death.",
        "policies": [
            "TASKS like funeral arrangements and paperwork that feel overwhelming",
            "RESOURCES such as grief counselling or support groups nearby",
        ],
        "card_count": 3,
    },
    {
        "id": "v3",
        "title": "Moving On Quickly",
        "description": "Getting back to normal life as fast as possible.",
        "policies": [
            "REASONS to stop dwelling on the past and get back to work",
            "DISTRACTIONS and busy routines that keep the mind occupied",
        ],
        "card_count": 2,
    },
    {
        "id": "v4",
        "title": "Financial Clarity",
        "description": "Seeing where the money goes so saving feels possible.",
        "policies": [
            "EXPENSES the user can see and compare in a monthly budget",
            "GOALS for saving money that feel achievable",
        ],
        "card_count": 4,
    },
]

CONTEXTS = [
    {
        "id": "c1",
        "name": "When the user is grieving the death of someone they love",
        "question_ids": [1],
    },
    {
        "id": "c2",
        "name": "When the user wants help with a budget or saving money",
        "question_ids": [2],
    },
]


def _ranking(context_id: str, value_id: str, rank: int, score: float) -> dict:
    return {
        "context_id": context_id,
        "value_id": value_id,
        "rank": rank,
        "score": score,
        "score_method": "pagerank_mai",
        "ci_low": None,
        "ci_high": None,
        "p_top": None,
        "contested": False,
        "winner": rank == 1,
    }


CONTEXT_VALUES = [
    _ranking("c1", "v1", 1, 0.5),
    _ranking("c1", "v2", 2, 0.3),
    _ranking("c1", "v3", 3, 0.2),
    _ranking("c2", "v4", 1, 0.7),
    _ranking("c2", "v2", 2, 0.3),
]


def _edge(from_id: str, to_id: str, kept: bool) -> dict:
    counts = {
        "wiser": 6,
        "not_wiser": 1,
        "less_wise": 0,
        "unsure": 1,
        "impressions": 8,
        "raters": 8,
    }
    return {
        "context_id": "c1",
        "from_value_id": from_id,
        "to_value_id": to_id,
        "counts": counts,
        "wiser_likelihood": 0.8,
        "entropy": 0.7,
        "kept": kept,
    }


EDGES = [_edge("v3", "v1", True), _edge("v2", "v1", False)]

GRIEF_PROMPT = "My father died last week and I can't stop crying. I don't know what to do."
BUDGET_PROMPT = "How can I save more money each month? My spending is all over the place."
UNRELATED_PROMPT = "What is the melting point of tungsten in kelvin?"

PRESENT = (
    "I'm so sorry about your father. It sounds like there is a lot of sadness you haven't been "
    "able to put into words yet. Would you like to tell me about him, and what you remember most?"
)
OFF_TOPIC = "To reset your router, unplug it for thirty seconds and plug it back in."
MOVE_ON = (
    "Try not to dwell on the past. Get back to work as soon as you can and keep yourself busy "
    "with routines and distractions so your mind stays occupied."
)


def write_bundle(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    files = {
        "values.jsonl": VALUES,
        "contexts.jsonl": CONTEXTS,
        "context_values.jsonl": CONTEXT_VALUES,
        "edges.jsonl": EDGES,
    }
    for name, rows in files.items():
        (root / name).write_text("".join(json.dumps(row) + "\n" for row in rows))
    manifest = {"schema_version": "1", "graph_version": GRAPH_VERSION, "counts": {"values": 4}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def shared_encoder():
    """The real model's chunk encoder; the model itself is loaded once per process."""
    from moralgraph.reranker.encoder import ChunkEncoder

    return ChunkEncoder()


def tiny_reranker(root: Path, **settings):
    """A reranker over a freshly written tiny bundle under `root`."""
    from moralgraph.reranker.api import Reranker
    from moralgraph.reranker.bundle import load_bundle
    from moralgraph.reranker.config import RerankerConfig

    return Reranker(load_bundle(write_bundle(root)), RerankerConfig(**settings), shared_encoder())
