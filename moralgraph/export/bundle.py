"""The export bundle, built from plain records and the aggregation result. Pure: no Django.

:func:`build_bundle` returns every file as bytes, keyed by its path in the bundle;
:func:`write_bundle` puts them on disk, replacing an earlier bundle in one rename. Ids are
prefixed by kind (``v12`` a value, ``c3`` a context, ``q5`` a question, ``h7`` a hypothesis) so
they cannot be confused across files. The same records and result give the same bytes.

Files (the schema of each is in ``schemas/``; rows sorted by numeric id):

* ``values.jsonl``, ``contexts.jsonl``, ``questions.jsonl``: the nodes and what they mean;
* ``edges.jsonl``: per context, every ordered pair of values that votes touched, with raw
  counts, MAI's wiser likelihood and entropy, whether it is kept, and bridging when computed;
* ``context_values.jsonl``: per context, the values ranked: PageRank over the kept edges,
  Bradley-Terry strength with its bootstrap interval and P(top), contested, published winner;
* ``graph.json``: MAI's ``MoralGraphSummary`` of the pooled graph; ``graph.graphml``;
* ``report.json``: counts, reliability and its gate, winners with the reasons they are (not)
  published, Bradley-Terry acquiescence, notes on the algorithms;
* ``votes.jsonl`` (only when votes are passed): raters as keyed hashes, never raw ids, and each
  rater's quality flags (``moralgraph.core.raters``); the manifest counts flagged votes;
* ``comparison.json`` (only when a comparison is passed): what changed between two stored
  builds of the study, ids as bundle keys (:mod:`.comparison`);
* ``README.md`` (dataset card), ``schemas/*.schema.json``, ``manifest.json``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import dataset_card, formats, manifest
from .comparison import ComparisonInput, comparison_document
from .schemas import schema_files

SCHEMA_VERSION = "1"
#: The files whose content defines the graph; ``graph_version`` hashes exactly these.
GRAPH_FILES = (
    "values.jsonl",
    "contexts.jsonl",
    "questions.jsonl",
    "edges.jsonl",
    "context_values.jsonl",
    "graph.json",
    "graph.graphml",
    "report.json",
)
VOTES_FILE = "votes.jsonl"
#: Not a graph file: it describes two stored builds, so ``graph_version`` leaves it out.
COMPARISON_FILE = "comparison.json"
#: ``score_method`` of each context_values row, by the core's PageRank algorithm name.
SCORE_METHODS = {"mai_pagerank": "pagerank_mai", "networkx_pagerank": "pagerank_networkx"}
CI_METHOD = "bradley_terry_bootstrap"


@dataclass(frozen=True)
class StudyInfo:
    slug: str
    title: str
    description: str = ""


@dataclass(frozen=True)
class ValueInput:
    id: int
    title: str
    description: str
    policies: tuple[str, ...]
    card_count: int
    merged_into: int | None = None  # set for a value merged away that old votes still name


@dataclass(frozen=True)
class ContextInput:
    id: int
    name: str
    question_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class QuestionInput:
    id: int
    title: str
    text: str


@dataclass(frozen=True)
class VoteInput:
    """One wisdom vote with the rater's raw id; only its keyed hash reaches the bundle."""

    rater_id: str
    hypothesis_id: int
    context_id: int
    from_value_id: int
    to_value_id: int
    answer: str
    flags: tuple[str, ...] = ()  # the rater's quality flags (moralgraph.core.raters)


@dataclass(frozen=True)
class BundleInputs:
    study: StudyInfo
    values: Sequence[ValueInput]
    contexts: Sequence[ContextInput]
    questions: Sequence[QuestionInput]
    result: Mapping[str, Any]  # moralgraph.core.aggregate() output, ids ours
    embedding_model: Mapping[str, Any] = field(default_factory=dict)
    votes: Sequence[VoteInput] | None = None
    comparison: ComparisonInput | None = None  # two stored builds and what changed


def value_key(pk: object) -> str:
    return f"v{pk}"


def context_key(pk: object) -> str:
    return f"c{pk}"


def question_key(pk: object) -> str:
    return f"q{pk}"


def hypothesis_key(pk: object) -> str:
    return f"h{pk}"


def rater_hash(salt: str, rater_id: str) -> str:
    """HMAC-SHA256 of the rater id keyed by ``salt``: stable within an export, unlinkable
    to the participant without the salt, which never enters the bundle."""
    if not salt:
        raise ValueError("Exporting votes needs a salt to hash rater ids.")
    return hmac.new(salt.encode(), str(rater_id).encode(), hashlib.sha256).hexdigest()


def _order(pk: object) -> tuple[int, int | str]:
    # Numeric ids in numeric order; anything else after them, as text.
    text = str(pk)
    return (0, int(text)) if text.lstrip("-").isdigit() else (1, text)


# --- rows ---


def value_rows(values: Iterable[ValueInput]) -> list[dict[str, Any]]:
    return [
        {
            "id": value_key(v.id),
            "title": v.title,
            "description": v.description,
            "policies": list(v.policies),
            "card_count": int(v.card_count),
            "merged_into": None if v.merged_into is None else value_key(v.merged_into),
        }
        for v in sorted(values, key=lambda v: _order(v.id))
    ]


def context_rows(contexts: Iterable[ContextInput]) -> list[dict[str, Any]]:
    return [
        {
            "id": context_key(c.id),
            "name": c.name,
            "question_ids": [question_key(q) for q in sorted(c.question_ids, key=_order)],
        }
        for c in sorted(contexts, key=lambda c: _order(c.id))
    ]


def question_rows(questions: Iterable[QuestionInput]) -> list[dict[str, Any]]:
    return [
        {"id": question_key(q.id), "title": q.title, "text": q.text}
        for q in sorted(questions, key=lambda q: _order(q.id))
    ]


def edge_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every per-context edge of the result, sorted by (context, from, to)."""
    rows = []
    for context, section in _sections(result):
        for edge in section["edges"]:
            rows.append(_edge_row(context, edge))
    return rows


def _edge_row(context: str, edge: Mapping[str, Any]) -> dict[str, Any]:
    counts = edge["counts"]
    return {
        "context_id": context_key(context),
        "from_value_id": value_key(edge["sourceValueId"]),
        "to_value_id": value_key(edge["wiserValueId"]),
        "counts": {
            "wiser": counts["markedWiser"],
            "not_wiser": counts["markedNotWiser"],
            "less_wise": counts["markedLessWise"],
            "unsure": counts["markedUnsure"],
            "impressions": counts["impressions"],
            "raters": edge["raters"],
        },
        "wiser_likelihood": edge["summary"]["wiserLikelihood"],
        "entropy": edge["summary"]["entropy"],
        "kept": edge["kept"],
        "bridging": _bridging(edge.get("bridging")),
    }


def _bridging(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Bridging per group as a list (a fixed shape for columnar readers), or None."""
    if raw is None:
        return None
    groups = [{"group": name, **raw["groups"][name]} for name in sorted(raw["groups"])]
    return {"bridged": raw["bridged"], "groups": groups}


def context_value_rows(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per context, its values best first: those in the kept graph by PageRank, then the
    others (voted on, but touched by no kept edge: score 0) by Bradley-Terry strength."""
    method = SCORE_METHODS.get(result["algorithm"], result["algorithm"])
    rows = []
    for context, section in _sections(result):
        rows.extend(_ranked(context, section, method))
    return rows


def _ranked(context: str, section: Mapping[str, Any], method: str) -> list[dict[str, Any]]:
    # Ranked on the rounded numbers that get written, so the order never hangs on float noise.
    pagerank = {str(e["value"]): formats.rounded(e["score"]) or 0.0 for e in section["ranking"]}
    bt = {str(e["value"]): e for e in section["bradley_terry"]}
    theta = {value: _finite(entry["theta"]) for value, entry in bt.items()}
    contested = {str(v) for members in section["contested_sets"] for v in members}
    winner = section.get("winner")
    published = str(winner["value"]) if winner and not winner["reasons"] else None

    def sort_key(value: str) -> tuple:
        strength = theta.get(value)
        return (
            value not in pagerank,
            -pagerank.get(value, 0.0),
            strength is None,
            -(strength or 0.0),
            _order(value),
        )

    ordered = sorted(set(pagerank) | set(bt), key=sort_key)
    return [
        {
            "context_id": context_key(context),
            "value_id": value_key(value),
            "rank": rank,
            "score": pagerank.get(value, 0.0),
            "score_method": method,
            "in_graph": value in pagerank,
            "bt_theta": theta.get(value),
            "ci_low": bt.get(value, {}).get("lo"),
            "ci_high": bt.get(value, {}).get("hi"),
            "ci_method": CI_METHOD,
            "p_top": bt.get(value, {}).get("prob_top"),
            "contested": value in contested,
            "winner": value == published,
        }
        for rank, value in enumerate(ordered, start=1)
    ]


def _finite(number: Any) -> float | None:
    return None if number is None else formats.rounded(float(number))


def vote_rows(votes: Iterable[VoteInput], salt: str) -> list[dict[str, Any]]:
    rows = [
        {
            "rater": rater_hash(salt, v.rater_id),
            "hypothesis_id": hypothesis_key(v.hypothesis_id),
            "context_id": context_key(v.context_id),
            "from_value_id": value_key(v.from_value_id),
            "to_value_id": value_key(v.to_value_id),
            "answer": v.answer,
            "flags": list(v.flags),
            "_order": (_order(v.context_id), _order(v.from_value_id), _order(v.to_value_id)),
        }
        for v in votes
    ]
    rows.sort(key=lambda r: (r["_order"], r["rater"], r["answer"]))
    for row in rows:
        del row["_order"]
    return rows


def pooled_edges(result: Mapping[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """MAI's kept pooled edges, ids as bundle keys and contexts by name (as MAI names them)."""
    edges = sorted(
        (edge for edge in result["global"]["edges"] if edge["kept"]),
        key=lambda e: (_order(e["sourceValueId"]), _order(e["wiserValueId"])),
    )
    return [
        {
            **edge,
            "sourceValueId": value_key(edge["sourceValueId"]),
            "wiserValueId": value_key(edge["wiserValueId"]),
            "contexts": sorted(names[str(c)] for c in edge.get("contexts", [])),
        }
        for edge in edges
    ]


def pooled_page_rank(result: Mapping[str, Any]) -> dict[str, float]:
    return {value_key(e["value"]): e["score"] for e in result["global"]["ranking"]}


def report(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the result says beyond edges and rankings: reliability, winners, notes."""
    winners = {
        context_key(context): copy.deepcopy(section.get("winner"))
        for context, section in _sections(result)
    }
    for winner in winners.values():
        if winner is not None:
            winner["value"] = value_key(winner["value"])
            if "bridging" in winner:
                winner["bridging"] = _bridging(winner["bridging"])
    return {
        "algorithm": result["algorithm"],
        "bradley_terry": result["bradley_terry"],
        "bridging_groups": result.get("bridging_groups"),
        "config": result["config"],
        "counts": result["counts"],
        "notes": result["notes"],
        "reliability": result["reliability"],
        "winners": winners,
    }


def _sections(result: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return sorted(result["contexts"].items(), key=lambda item: _order(item[0]))


# --- the bundle ---


def build_bundle(inputs: BundleInputs, *, salt: str | None = None) -> dict[str, bytes]:
    """Every file of the bundle, by path. Votes, when given, need ``salt``."""
    result = inputs.result
    values = value_rows(inputs.values)
    contexts = context_rows(inputs.contexts)
    _check_ids(result, values, contexts)
    names = {row["id"][1:]: row["name"] for row in contexts}
    edges = edge_rows(result)
    pooled, page_rank = pooled_edges(result, names), pooled_page_rank(result)
    files: dict[str, bytes] = {
        "values.jsonl": formats.jsonl_bytes(values),
        "contexts.jsonl": formats.jsonl_bytes(contexts),
        "questions.jsonl": formats.jsonl_bytes(question_rows(inputs.questions)),
        "edges.jsonl": formats.jsonl_bytes(edges),
        "context_values.jsonl": formats.jsonl_bytes(context_value_rows(result)),
        "graph.json": formats.json_bytes(
            formats.mai_summary(values, pooled, page_rank), indent=False
        ),
        "graph.graphml": formats.graphml_bytes(values, edges, page_rank),
        "report.json": formats.json_bytes(report(result)),
    }
    if inputs.votes is not None:
        if not salt:
            raise ValueError("Exporting votes needs a salt to hash rater ids.")
        files[VOTES_FILE] = formats.jsonl_bytes(vote_rows(inputs.votes, salt))
    if inputs.comparison is not None:
        files[COMPARISON_FILE] = formats.json_bytes(comparison_document(inputs.comparison))
    head = manifest.manifest_head(
        files,
        graph_files=GRAPH_FILES,
        schema_version=SCHEMA_VERSION,
        study={
            "slug": inputs.study.slug,
            "title": inputs.study.title,
            "description": inputs.study.description,
        },
        result=result,
        counts=_counts(result, values, contexts, edges, files),
        embedding_model=dict(inputs.embedding_model),
    )
    files.update(schema_files())
    files["README.md"] = dataset_card.render(head, inputs.study, sorted(files)).encode()
    files["manifest.json"] = formats.json_bytes(manifest.with_files(head, files))
    return files


def _counts(
    result: Mapping[str, Any],
    values: list[dict[str, Any]],
    contexts: list[dict[str, Any]],
    edges: list[dict[str, Any]],
    files: Mapping[str, bytes],
) -> dict[str, Any]:
    winners = [s.get("winner") for _, s in _sections(result)]
    return {
        "values": len(values),
        "contexts": len(contexts),
        "questions": files["questions.jsonl"].count(b"\n"),
        "edges": len(edges),
        "kept_edges": sum(1 for edge in edges if edge["kept"]),
        "votes": result["counts"]["votes"],
        "raters": result["counts"]["raters"],
        "exported_votes": files[VOTES_FILE].count(b"\n") if VOTES_FILE in files else None,
        "published_winners": sum(1 for w in winners if w is not None and not w["reasons"]),
        "rater_flags": _flag_counts(result.get("rater_quality")),
    }


def _flag_counts(quality: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """How many raters and votes carry rater-quality flags, and how many were left out (no
    rater ids: those stay in the study's database)."""
    if quality is None:
        return None
    excluded = quality.get("excluded") or {}
    return {
        "raters": len(quality["raters"]),
        "votes": quality["flagged_votes"],
        "by_flag": {flag: dict(counts) for flag, counts in quality["by_flag"].items()},
        "excluded_raters": excluded.get("raters", 0),
        "excluded_votes": excluded.get("votes", 0),
    }


def _check_ids(
    result: Mapping[str, Any], values: list[dict[str, Any]], contexts: list[dict[str, Any]]
) -> None:
    """Every value and context the result names must have a row (fail loudly, not dangle)."""
    known_values = {row["id"] for row in values}
    known_contexts = {row["id"] for row in contexts}
    named_values = {value_key(e["value"]) for e in result["global"]["ranking"]}
    named_contexts = set()
    for context, section in _sections(result):
        named_contexts.add(context_key(context))
        for edge in section["edges"]:
            named_values |= {value_key(edge["sourceValueId"]), value_key(edge["wiserValueId"])}
    missing = sorted(named_values - known_values) + sorted(named_contexts - known_contexts)
    if missing:
        raise ValueError(f"The result names ids with no record: {', '.join(missing[:10])}")


def write_bundle(files: Mapping[str, bytes], out_dir: Path | str) -> Path:
    """Write ``files`` under ``out_dir``, replacing an earlier bundle there as a whole.

    The files go to a fresh sibling folder first, which is then renamed into place, so a
    reader never sees half a bundle and no stale file (an old ``votes.jsonl``) survives.
    An existing ``out_dir`` must be empty or hold a bundle (a ``manifest.json``); its
    ``training/``, made for the graph it held, goes with it.
    """
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file, not a bundle folder.")
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise FileExistsError(f"{out} is not empty and holds no bundle; refusing to replace it.")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.{secrets.token_hex(4)}")
    staging.mkdir()  # not mkdtemp: its folder is private to us, a bundle is for sharing
    try:
        for name, data in sorted(files.items()):
            path = staging / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _swap_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    retired = out.with_name(f".{out.name}.old-{staging.name.rsplit('.', 1)[-1]}")
    out.rename(retired)
    staging.rename(out)
    shutil.rmtree(retired, ignore_errors=True)


def add_training(bundle_dir: Path | str, files: Mapping[str, bytes], summary: Mapping) -> None:
    """Record ``training/`` files (already written) in the bundle's manifest and card.

    The manifest gains their hashes and ``training`` (``summary``: graph and scorer versions);
    the card gains a config for each. ``graph_version`` does not change: the graph did not.
    """
    root = Path(bundle_dir)
    head = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    records = {
        name: record
        for name, record in head.pop("files").items()
        if not name.startswith("training/")
    }
    records.update(
        {f"training/{name}": manifest.file_record(name, data) for name, data in files.items()}
    )
    head["training"] = dict(summary)
    study = StudyInfo(**head["study"])
    card = dataset_card.render(head, study, sorted(records)).encode()
    records["README.md"] = manifest.file_record("README.md", card)
    (root / "README.md").write_bytes(card)
    (root / "manifest.json").write_bytes(formats.json_bytes({**head, "files": records}))
