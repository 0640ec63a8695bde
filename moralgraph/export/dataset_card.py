"""The bundle's ``README.md``: a Hugging Face dataset card. Pure: no Django.

The front matter is YAML written by hand, every string a JSON string (a valid YAML
double-quoted scalar), so the card is deterministic and parses with any YAML reader. Its
``configs`` list every JSONL file, so ``datasets.load_dataset(bundle_dir, name)`` finds them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

#: JSONL files and what a row of each is, in the order the card lists them.
CONFIGS = {
    "context_values.jsonl": "per context, the values ranked, with scores, intervals, winners",
    "values.jsonl": "the values (canonical values cards): title, description, policies",
    "contexts.jsonl": "the contexts ('When ...' phrases) and their questions",
    "questions.jsonl": "the study's questions: prompts a user might send an AI",
    "edges.jsonl": "per context, each ordered pair of values with its vote counts",
    "votes.jsonl": "wisdom votes of consenting participants, raters as keyed hashes, each with "
    "its rater's quality flags",
    "training/preference_trl.jsonl": "preference pairs in TRL's conversational format",
    "training/preference_openai_dpo.jsonl": "preference pairs in OpenAI's DPO format",
    "training/prompts.jsonl": "prompts with their context and values, for reward functions",
    "training/candidates.jsonl": "every generated candidate answer with its score",
}
OTHER_FILES = {
    "graph.json": "MAI's MoralGraphSummary of the pooled graph (MAI's field names)",
    "graph.graphml": "the per-context graph for graph tools (Gephi, NetworkX)",
    "report.json": "reliability report, publishing gate, winners and why, notes",
    "comparison.json": "what changed since an earlier build: values, edges, winners, gate",
    "manifest.json": "graph version, config, counts, per-file SHA-256, embedding model",
    "schemas/": "a JSON Schema for every file (a JSONL schema describes one row)",
}
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
)


def config_name(path: str) -> str:
    """``training/preference_trl.jsonl`` -> ``training_preference_trl``."""
    return path.removesuffix(".jsonl").replace("/", "_")


def render(
    head: Mapping[str, Any], study: Any, files: Sequence[str], rows: Mapping[str, int] | None = None
) -> str:
    """The card for a bundle whose manifest (without ``files``) is ``head``.

    ``study`` has ``title`` and ``description``; ``files`` are the bundle's paths; ``rows``
    gives row counts for the size category (default: the manifest's counts).
    """
    present = [path for path in CONFIGS if path in files]
    largest = max(rows.values()) if rows else _largest(head["counts"])
    return _front_matter(study, present, largest) + _body(head, study, present, files)


def _largest(counts: Mapping[str, Any]) -> int:
    return max((v for v in counts.values() if isinstance(v, int)), default=0)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _front_matter(study: Any, present: Sequence[str], largest: int) -> str:
    size = next((label for limit, label in SIZE_CATEGORIES if largest < limit), "10M<n<100M")
    lines = [
        "---",
        f"pretty_name: {_q(f'Moral graph: {study.title}')}",
        "license: other",
        f"license_name: {_q('study-consent-terms')}",
        "task_categories:",
        "- text-generation",
        "- text-classification",
        "tags:",
        *(f"- {tag}" for tag in ("moral-graph", "alignment", "values", "preference", "dpo")),
        "size_categories:",
        f"- {_q(size)}",
        "configs:",
    ]
    for index, path in enumerate(present):
        lines += [
            f"- config_name: {_q(config_name(path))}",
            "  data_files:",
            "  - split: train",
            f"    path: {_q(path)}",
        ]
        if index == 0:
            lines.append("  default: true")
    return "\n".join([*lines, "---", ""]) + "\n"


def _body(head: Mapping[str, Any], study: Any, present: Sequence[str], files: Sequence[str]) -> str:
    sections = [
        f"# Moral graph: {study.title}\n\n{study.description.strip()}".rstrip(),
        _summary(head),
        _contents(head, present, files),
        _method(head),
        _reliability(head),
        _caveats(head),
        _loading(present),
        _licence(),
    ]
    return "\n\n".join(sections) + "\n"


def _summary(head: Mapping[str, Any]) -> str:
    c = head["counts"]
    return (
        "A moral graph: which values people judged wiser than which others, per context, "
        "and the ranking of values that follows in each context (the alignment target).\n\n"
        f"- Graph version: `{head['graph_version']}` (a content hash; see `manifest.json`)\n"
        f"- Schema version: {head['schema_version']}\n"
        f"- {c['values']} values, {c['contexts']} contexts, {c['edges']} edges "
        f"({c['kept_edges']} kept), {c['votes']} votes by {c['raters']} raters"
    )


def _contents(head: Mapping[str, Any], present: Sequence[str], files: Sequence[str]) -> str:
    lines = ["## Files", "", "| file | config | what |", "|---|---|---|"]
    lines += [f"| `{p}` | `{config_name(p)}` | {CONFIGS[p]} |" for p in present]
    others = [p for p in OTHER_FILES if p in files or any(f.startswith(p) for f in files)]
    lines += [f"| `{p}` | | {OTHER_FILES[p]} |" for p in others]
    if head["counts"].get("exported_votes") is None:
        lines += ["", "Raw votes were not exported."]
    return "\n".join(lines)


def _method(head: Mapping[str, Any]) -> str:
    config = head["config"]
    entropy = (
        "over the four answer counts"
        if config["entropy_mode"] == "four_field"
        else "over the four answer counts and impressions, as MAI's app computes it"
    )
    return (
        "## How it was made\n\n"
        "Participants talked with an LLM interviewer about a question and wrote values cards "
        "(a title, a description, and attentional policies: what a wise person attends to). "
        "Cards that mean the same thing were merged into canonical values. An LLM proposed "
        "upgrade hypotheses, each a move from value A to value B in a context with a short "
        "story; participants judged whether B is wiser than A (wiser, not wiser, less wise, "
        "unsure).\n\n"
        "Per context and ordered pair of values, votes are counted as in MAI's app; the wiser "
        "likelihood is (wiser - less wise) / answers and the entropy (in bits) is taken "
        f"{entropy}. An edge is kept with at least {config['min_wiser']} wiser votes, "
        f"likelihood >= {config['min_likelihood']} and entropy <= {config['max_entropy']}. "
        "Values are ranked in each context by PageRank over the kept edges, weighted by "
        "likelihood; Bradley-Terry strengths with an acquiescence intercept and bootstrap "
        "intervals over raters are reported beside it. Cycles of wiser-than edges are "
        "reported as contested sets, support across demographic groups as bridging. "
        "The full configuration is in `manifest.json` (`config`)."
    )


def _reliability(head: Mapping[str, Any]) -> str:
    gate = head["reliability_gate"]
    winners = head["counts"].get("published_winners", 0)
    if gate["publishable"]:
        verdict = "The reliability gate passed: winners may be published."
    else:
        reasons = "\n".join(f"- {reason}" for reason in gate["failures"])
        verdict = (
            "The reliability gate did **not** pass, so no context has a published winner. "
            f"It failed on:\n\n{reasons}"
        )
    return (
        "## Reliability\n\n"
        f"{verdict}\n\nPublished winners: {winners} of {head['counts']['contexts']} contexts. "
        "`report.json` holds the split-half agreement, votes per edge, held-out prediction, "
        "and for each context the reasons its top value is or is not published."
    )


def _caveats(head: Mapping[str, Any]) -> str:
    return (
        "## Caveats\n\n"
        f"- {head['notes']['pagerank']}\n"
        "- Scores compare values within one context only.\n"
        "- `ci_low` and `ci_high` in `context_values.jsonl` bound the Bradley-Terry strength "
        "(`bt_theta`), not the PageRank `score`.\n"
        "- Values touched by no kept edge have score 0 and are ranked after the others by "
        "Bradley-Terry strength; with few votes per edge most rankings are uncertain.\n"
        "- Upgrade stories were written by an LLM; participants judged them.\n"
        "- Training pairs are ranked by a scorer (see `scorer_version` in each row), not by "
        "people."
    )


def _loading(present: Sequence[str]) -> str:
    first = present[0] if present else "context_values.jsonl"
    return (
        "## Loading\n\n"
        "```python\n"
        "from datasets import load_dataset\n\n"
        f'ranking = load_dataset("path/to/bundle", "{config_name(first)}", split="train")\n'
        f'# or one file: load_dataset("json", data_files="path/to/bundle/{first}")\n'
        "```"
    )


def _licence() -> str:
    return (
        "## Licence\n\n"
        "`license: other`: this card grants no licence. What participants wrote is governed "
        "by the consent terms of the study; the organizers must choose a licence before "
        "sharing the data. Data imported from a third party keeps that party's terms (MAI's "
        "public DFT data states none)."
    )
