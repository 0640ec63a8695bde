"""Hand-made inputs for the export writers: a tiny aggregation result and its records.

Two contexts over three values. In c10 ("grief") the kept edge 1 -> 2 makes value 2 the
published winner; in c11 values 1 and 3 sit in a contested cycle, tied, so its winner is
withheld. Value 4 is a value merged away that an old vote still names.
"""

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from moralgraph.core import Config, Vote, VoteArrays, aggregate
from moralgraph.export import (
    BundleInputs,
    ContextInput,
    QuestionInput,
    StudyInfo,
    ValueInput,
    VoteInput,
)
from moralgraph.export.formats import read_jsonl
from moralgraph.export.schemas import FILE_SCHEMAS, load_schema

SALT = "a-salt-known-only-to-the-organizer"


def counts(wiser=0, not_wiser=0, less_wise=0, unsure=0, impressions=0):
    return {
        "markedWiser": wiser,
        "markedNotWiser": not_wiser,
        "markedLessWise": less_wise,
        "markedUnsure": unsure,
        "impressions": impressions,
    }


def edge(src, dst, c, likelihood, entropy, kept, raters=3, contexts=None):
    row = {
        "sourceValueId": src,
        "wiserValueId": dst,
        "counts": c,
        "raters": raters,
        "summary": {"wiserLikelihood": likelihood, "entropy": entropy},
        "kept": kept,
    }
    if contexts is not None:
        row["contexts"] = contexts
    return row


def tiny_result() -> dict:
    config = Config.mai().to_dict()
    c10_edges = [
        edge(1, 2, counts(wiser=3, impressions=3), 1.0, 0.0, True),
        edge(2, 1, counts(less_wise=3, impressions=3), -1.0, 0.0, False),
        edge(4, 2, counts(not_wiser=1, impressions=1), 0.0, 0.0, False, raters=1),
        edge(2, 4, counts(impressions=1), 0.0, 0.0, False, raters=1),
    ]
    c11_edges = [
        edge(1, 3, counts(wiser=2, unsure=1, impressions=3), 2 / 3, 0.9182958341, True),
        edge(3, 1, counts(wiser=2, not_wiser=1, impressions=3), 2 / 3, 0.9182958341, True),
    ]
    return {
        "schema_version": 1,
        "config": config,
        "algorithm": "mai_pagerank",
        "notes": {"pagerank": "MAI PageRank: scores need not sum to 1."},
        "counts": {
            "votes": 11,
            "raters": 4,
            "values": 4,
            "contexts": 2,
            "answers": {"wiser": 7, "not_wiser": 2, "less_wise": 0, "unsure": 1},
            "wiser_share_of_decisive": 7 / 9,
        },
        "global": {
            "edges": [
                edge(1, 2, counts(wiser=3, impressions=3), 1.0, 0.0, True, contexts=[10]),
                edge(1, 3, counts(wiser=2, unsure=1, impressions=3), 2 / 3, 0.9, True, [11]),
                edge(2, 1, counts(less_wise=3, impressions=3), -1.0, 0.0, False, contexts=[10]),
            ],
            "ranking": [{"value": 2, "score": 0.1275}, {"value": 3, "score": 0.0783333333}],
        },
        "contexts": {
            10: {
                "edges": c10_edges,
                "ranking": [{"value": 2, "score": 0.1275}, {"value": 1, "score": 0.05}],
                "bradley_terry": [
                    {"value": 2, "theta": 0.8, "lo": 0.2, "hi": 1.4, "prob_top": 0.9},
                    {"value": 4, "theta": 0.1, "lo": -0.5, "hi": 0.7, "prob_top": 0.1},
                    {"value": 1, "theta": -0.9, "lo": -1.5, "hi": -0.3, "prob_top": 0.0},
                ],
                "contested_sets": [],
                "winner": {"value": 2, "score": 0.1275, "bt_prob_top": 0.9, "reasons": []},
            },
            11: {
                "edges": c11_edges,
                "ranking": [{"value": 1, "score": 0.1}, {"value": 3, "score": 0.1}],
                "bradley_terry": [
                    {"value": 1, "theta": 0.0, "lo": float("nan"), "hi": 0.5, "prob_top": 0.5},
                    {"value": 3, "theta": 0.0, "lo": -0.5, "hi": 0.5, "prob_top": 0.5},
                ],
                "contested_sets": [[1, 3]],
                "winner": {
                    "value": 1,
                    "score": 0.1,
                    "bt_prob_top": 0.5,
                    "reasons": ["tied with the runner-up", "in a contested set"],
                },
            },
        },
        "bradley_terry": {"alpha": {"*": 0.3}, "converged": True, "bootstrap_samples": 200},
        "reliability": {
            "split_half": {"repeats": 20, "kappa_mean": 0.5},
            "gate": {"publishable": True, "failures": []},
        },
    }


VALUES = [
    ValueInput(3, "Honest Uncertainty", "Saying what is not known.", ("GAPS in what I know",), 2),
    ValueInput(1, "Moving On", "Getting back to normal.", ("DISTRACTIONS that keep busy",), 1),
    ValueInput(
        2,
        "Gentle Presence",
        "Staying with grief without rushing to fix it.",
        ("FEELINGS of loss not yet put into words", "MEMORIES the person wants to share"),
        5,
    ),
    ValueInput(4, "Old Presence", "An earlier wording.", ("FEELINGS of loss",), 0, merged_into=2),
]
CONTEXTS = [
    ContextInput(11, "When the user is unsure what is true", (6,)),
    ContextInput(10, "When the user is grieving the death of someone they love", (5, 6)),
]
QUESTIONS = [
    QuestionInput(5, "grief", "My father died last week. What should I do?"),
    QuestionInput(6, "doubt", "Is it true that ...?"),
]
VOTES = [
    VoteInput("17", 7, 10, 1, 2, "wiser"),
    VoteInput("18", 7, 10, 1, 2, "wiser"),
    VoteInput("19", 8, 11, 1, 3, "unsure"),
]
STUDY = StudyInfo("grief-study", "What should an AI attend to in grief?", "A pilot study.")


def tiny_inputs(*, votes=None, result=None, embedding_model=None) -> BundleInputs:
    return BundleInputs(
        study=STUDY,
        values=VALUES,
        contexts=CONTEXTS,
        questions=QUESTIONS,
        result=result if result is not None else tiny_result(),
        embedding_model=embedding_model or {"name": "test-model", "dimension": 3},
        votes=votes,
    )


def real_result(seed: int = 0) -> dict:
    """``aggregate`` over a few hand-written votes (ids as in :data:`VALUES`, :data:`CONTEXTS`)."""
    votes = []
    for rater in range(8):
        votes.append(Vote(f"r{rater}", 1, 2, 10, "wiser"))
        votes.append(Vote(f"r{rater}", 1, 3, 11, "wiser" if rater % 3 else "not_wiser"))
        votes.append(Vote(f"r{rater}", 2, 3, 11, "unsure" if rater % 2 else "wiser"))
    groups = {f"r{rater}": ("left", "right")[rater % 2] for rater in range(8)}
    config = Config(bootstrap_samples=30, seed=seed)
    return aggregate(VoteArrays.from_votes(votes), config, groups=groups)


def validate_bundle_file(name: str, data: bytes) -> int:
    """Validate a bundle file against its schema; the number of documents checked."""
    validator = Draft202012Validator(load_schema(FILE_SCHEMAS[name]))
    documents = read_jsonl(data) if name.endswith(".jsonl") else [json.loads(data)]
    for document in documents:
        validator.validate(document)
    return len(documents)


def validate_directory(root: Path) -> list[str]:
    """Validate every file of a bundle directory that has a schema; the names checked."""
    checked = []
    for name in sorted(FILE_SCHEMAS):
        path = root / name
        if path.exists():
            validate_bundle_file(name, path.read_bytes())
            checked.append(name)
    return checked
