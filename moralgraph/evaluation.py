"""A model's report card against the alignment target: do its plain answers enact the winners?

:func:`model_evaluate` asks the model under test for one answer per prompt (the prompt as the
only message: the model as it is, no value guidance), scores each answer with the values
reranker in the prompt's best-matching context, and :func:`summarise` turns the scored records
into the report. :func:`summarise`, :func:`percentile_ranks` and :func:`report_table` are pure
functions over plain records; only :func:`model_evaluate` talks to the LLM and the encoder.

Relative measure: raw reranker scores have no fixed scale, so every scored answer also gets its
mid-rank percentile among the answers of the same run,

    pct(x) = 100 * (#{scores < x} + #{scores == x} / 2) / n,

and a context's ``mean_percentile`` above 50 says the model enacts that context's values
better than its own average. Percentiles compare contexts within a run, never runs.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from django.conf import settings

from elicitation.llm.client import CallTag, chat, is_configured
from elicitation.llm.errors import LLMBudgetExceeded, LLMError, LLMNotConfigured

from .guided_answers import PromptText, naive_messages
from .reranker.api import Reranker
from .reranker.bundle import Bundle, load_bundle
from .reranker.config import RerankerConfig

logger = logging.getLogger(__name__)

PURPOSE = "evaluate_model"
REPORT_VERSION = "1"
BATCH = 64  # prompts per encoder pass

ANSWERED, ABSTAINED, FAILED = "answered", "abstained", "failed"
WINNER, TOP, SUPERSEDED = "winner", "top", "superseded"

METHOD = {
    "answers": (
        "One answer per prompt from the model under test, the prompt as the only message (no "
        "system prompt, no value guidance). Prompts that match no context, or one with no ranked "
        "values, are not sent (abstained); a failed or empty answer is counted as failed."
    ),
    "context": (
        "Each prompt is scored in its best-matching context (the values reranker's retrieval); "
        "below the reranker's threshold it matches none and abstains."
    ),
    "score": (
        "The values reranker's score of the answer in that context: the weighted mean of its "
        "scores on the context's top values minus contrastive_lambda times the mean on the "
        "values the winner supersedes (kept edges into the winner). Raw scores compare only "
        "under the same scorer_version and graph_version."
    ),
    "values": (
        "Mean per-value scores over the context's scored answers: the winner first, the other "
        "top values by rank, then the superseded values. Where the bundle publishes no winner "
        "(contested, or the reliability gate failed) the first-ranked value stands in, as it "
        "does for the reranker, and the context says winner_published: false."
    ),
    "best_value": (
        "An answer's best-matching value is its highest per-value score among the context's top "
        "and superseded values (ties go to the winner); shares are over the scored answers."
    ),
    "relative": (
        "percentile: each answer's mid-rank percentile among all answers scored in this run, "
        "100 * (below + equal / 2) / n; a context's mean_percentile above 50 means the model "
        "enacts its values better than its own average. Compares contexts within a run only."
    ),
}


@dataclass(frozen=True)
class ValueScore:
    id: str
    title: str
    role: str  # WINNER, TOP or SUPERSEDED
    score: float


@dataclass(frozen=True)
class AnswerRecord:
    """One prompt's outcome: scored in a context, abstained (no context), or failed."""

    prompt_id: str
    status: str
    context_id: str | None = None
    context_name: str = ""
    winner_published: bool = True  # False: the first-ranked value stands in for the winner
    score: float | None = None  # None unless answered
    values: tuple[ValueScore, ...] = ()  # winner first, then top, then superseded
    answer: str = ""
    error: str = ""

    @property
    def best_value(self) -> ValueScore | None:
        """The value the answer enacts most; the first (the winner) on a tie."""
        return max(self.values, key=lambda value: value.score) if self.values else None


# --- the service ---


def model_evaluate(
    *,
    bundle_dir: Path | str,
    prompts: Sequence[PromptText],
    model: str | None = None,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask, score and summarise; the report as a JSON-ready dict (see :data:`METHOD`)."""
    if not is_configured():
        raise LLMNotConfigured("Set LLM_BASE_URL and/or LLM_API_KEY (or OPENAI_API_KEY).")
    reranker = Reranker(load_bundle(bundle_dir), RerankerConfig(device=device))
    contexts = _retrieve(reranker, prompts)
    answers, served = _answers(reranker.bundle, prompts, contexts, model, progress)
    records = _records(reranker, prompts, contexts, answers)
    return {
        "report_version": REPORT_VERSION,
        "model": model or settings.LLM_MODEL,
        "served_models": sorted(served),
        "graph_version": reranker.bundle.graph_version,
        "scorer_version": reranker.config.version,
        "method": METHOD,
        **summarise(records),
    }


def _retrieve(reranker: Reranker, prompts: Sequence[PromptText]) -> list[str | None]:
    """Each prompt's best-matching context id, or None where the reranker abstains."""
    found: list[str | None] = []
    for batch in _batches(prompts):
        results = reranker.rerank_many([(prompt.text, []) for prompt in batch])
        found += [None if r.abstained else r.contexts[0]["id"] for r in results]
    return found


@dataclass(frozen=True)
class _Answer:
    text: str = ""
    model: str = ""
    error: str = ""  # an LLMError code, or "empty_answer"


def _answers(
    graph: Bundle,
    prompts: Sequence[PromptText],
    contexts: Sequence[str | None],
    model: str | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[_Answer | None], set[str]]:
    """The model's answer (or why there is none) for each prompt in a context with values."""
    tag = CallTag(purpose=PURPOSE, prompt_name="naive", prompt_version="", model=model)
    answers: list[_Answer | None] = []
    for done, (prompt, context_id) in enumerate(zip(prompts, contexts, strict=True), start=1):
        ranked = context_id is not None and graph.rankings.get(context_id)
        answers.append(_answer(prompt, tag) if ranked else None)
        if progress is not None:
            progress(done, len(prompts))
    return answers, {answer.model for answer in answers if answer and answer.model}


def _answer(prompt: PromptText, tag: CallTag) -> _Answer:
    try:
        result = chat(naive_messages(prompt.text), tag=tag)
    except (LLMNotConfigured, LLMBudgetExceeded):
        raise  # every later call would fail the same way
    except LLMError as exc:
        logger.warning("Evaluation answer to %s failed (%s): %s", prompt.id, exc.code, exc)
        return _Answer(error=exc.code)
    text = result.text.strip()
    return _Answer(text, result.model, "" if text else "empty_answer")


def _records(
    reranker: Reranker,
    prompts: Sequence[PromptText],
    contexts: Sequence[str | None],
    answers: Sequence[_Answer | None],
) -> list[AnswerRecord]:
    """One record per prompt, in prompt order; the answers are scored a batch at a time."""
    records: dict[int, AnswerRecord] = {}
    pending = []
    for i, (prompt, context_id, answer) in enumerate(zip(prompts, contexts, answers, strict=True)):
        if context_id is None:
            records[i] = AnswerRecord(prompt.id, ABSTAINED)
        elif answer is None:
            records[i] = _record(reranker.bundle, prompt.id, context_id, ABSTAINED)
        elif answer.error:
            records[i] = _record(reranker.bundle, prompt.id, context_id, FAILED, error=answer.error)
        else:
            pending.append((i, prompt, context_id, answer.text))
    for batch in _batches(pending):
        records.update(_scored(reranker, batch))
    return [records[i] for i in range(len(prompts))]


def _scored(
    reranker: Reranker, batch: Sequence[tuple[int, PromptText, str, str]]
) -> dict[int, AnswerRecord]:
    """Score each answer in its prompt's context (named, so retrieval is not run again)."""
    results = reranker.rerank_many(
        [(prompt.text, [text]) for _, prompt, _, text in batch],
        contexts=[[context_id] for _, _, context_id, _ in batch],
    )
    records = {}
    for (i, prompt, _, text), result in zip(batch, results, strict=True):
        (scored,) = result.breakdown[0]["contexts"]
        records[i] = _record(
            reranker.bundle,
            prompt.id,
            scored["id"],
            ANSWERED,
            score=float(scored["score"]),
            values=_value_scores(reranker.bundle, scored),
            answer=text,
        )
    return records


def _record(
    graph: Bundle, prompt_id: str, context_id: str, status: str, **fields: Any
) -> AnswerRecord:
    winner = graph.winner(context_id)
    return AnswerRecord(
        prompt_id,
        status,
        context_id,
        graph.contexts[context_id].name,
        winner_published=bool(winner and winner.winner),
        **fields,
    )


def _value_scores(graph: Bundle, scored: dict[str, Any]) -> tuple[ValueScore, ...]:
    """The breakdown's per-value scores, the winner relabelled and moved first."""
    winner = graph.winner(scored["id"])
    winner_id = winner.value_id if winner else None
    values = [
        ValueScore(v["id"], v["title"], WINNER if v["id"] == winner_id else v["role"], v["score"])
        for v in scored["values"]
    ]
    return tuple(sorted(values, key=lambda value: value.role != WINNER))  # stable


def _batches(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


# --- the report: pure functions over records ---


def summarise(records: Sequence[AnswerRecord]) -> dict[str, Any]:
    """Totals, the run's score distribution, one row per context and one per prompt.

    Contexts are ordered by prompts (most first), then id; prompts keep their given order.
    """
    scores = [record.score for record in records if record.score is not None]
    ranks = iter(percentile_ranks(scores))
    rows = [(record, None if record.score is None else next(ranks)) for record in records]
    by_context: dict[str, list[tuple[AnswerRecord, float | None]]] = {}
    for record, rank in rows:
        if record.context_id is not None:
            by_context.setdefault(record.context_id, []).append((record, rank))
    order = sorted(by_context, key=lambda cid: (-len(by_context[cid]), cid))
    return {
        "totals": _totals(records),
        "scores": _distribution(scores),
        "contexts": [_context_row(by_context[cid]) for cid in order],
        "prompts": [_prompt_row(record, rank) for record, rank in rows],
    }


def percentile_ranks(scores: Sequence[float]) -> list[float]:
    """Each score's mid-rank percentile among `scores`: 100 * (below + equal / 2) / n."""
    ordered = sorted(scores)
    ranks = []
    for x in scores:
        below, up_to = bisect_left(ordered, x), bisect_right(ordered, x)
        ranks.append(100 * (below + (up_to - below) / 2) / len(ordered))
    return ranks


def _totals(records: Sequence[AnswerRecord]) -> dict[str, int]:
    statuses = [record.status for record in records]
    return {
        "prompts": len(records),
        "answered": statuses.count(ANSWERED),
        "failed": statuses.count(FAILED),
        "abstained": statuses.count(ABSTAINED),
    }


def _distribution(scores: Sequence[float]) -> dict[str, float | None]:
    """Mean and quantiles (linear interpolation between order statistics); None when empty."""
    ordered = sorted(scores)
    points = {"min": 0.0, "p25": 0.25, "median": 0.5, "p75": 0.75, "max": 1.0}
    summary: dict[str, float | None] = {name: _quantile(ordered, q) for name, q in points.items()}
    summary["mean"] = _mean(ordered)
    return summary


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return _r(ordered[low] + (ordered[high] - ordered[low]) * (at - low))


def _context_row(rows: Sequence[tuple[AnswerRecord, float | None]]) -> dict[str, Any]:
    first = rows[0][0]
    scored = [(record, rank) for record, rank in rows if record.score is not None]
    records = [record for record, _ in scored]
    return {
        "context_id": first.context_id,
        "name": first.context_name,
        "winner_published": first.winner_published,
        "prompts": len(rows),
        "answered": len(scored),
        "failed": sum(record.status == FAILED for record, _ in rows),
        "abstained": sum(record.status == ABSTAINED for record, _ in rows),
        "mean_score": _mean([record.score or 0.0 for record in records]),
        "mean_percentile": _mean([rank or 0.0 for _, rank in scored]),
        "values": _value_means(records),
        "best_value_share": _best_value_shares(records),
    }


def _value_means(scored: Sequence[AnswerRecord]) -> list[dict[str, Any]]:
    """Each value's mean score, in the order the records list them (winner first)."""
    seen: dict[str, ValueScore] = {}
    scores: dict[str, list[float]] = {}
    for record in scored:
        for value in record.values:
            seen.setdefault(value.id, value)
            scores.setdefault(value.id, []).append(value.score)
    return [
        {"id": v.id, "title": v.title, "role": v.role, "mean_score": _mean(scores[v.id])}
        for v in seen.values()
    ]


def _best_value_shares(scored: Sequence[AnswerRecord]) -> dict[str, float | None]:
    """Shares of answers whose best-matching value is the winner, superseded or another top."""
    roles = [best.role for record in scored if (best := record.best_value) is not None]
    return {
        "winner": _share(roles, WINNER),
        "superseded": _share(roles, SUPERSEDED),
        "other_top": _share(roles, TOP),
    }


def _prompt_row(record: AnswerRecord, percentile: float | None) -> dict[str, Any]:
    best = record.best_value
    return {
        "prompt_id": record.prompt_id,
        "status": record.status,
        "context_id": record.context_id,
        "score": None if record.score is None else _r(record.score),
        "percentile": None if percentile is None else _r(percentile),
        "best_value_id": best.id if best else None,
        "best_value_role": best.role if best else None,
        "answer": record.answer,
        "error": record.error,
    }


def _share(items: Sequence[str], wanted: str) -> float | None:
    return _r(items.count(wanted) / len(items)) if items else None


def _mean(numbers: Sequence[float]) -> float | None:
    return _r(fmean(numbers)) if numbers else None


def _r(number: float) -> float:
    return round(float(number), 6)


# --- output ---


def report_json(report: dict[str, Any]) -> str:
    """The report as deterministic JSON: sorted keys, two-space indent, a final newline."""
    return json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def report_table(report: dict[str, Any]) -> str:
    """A plain-text table: one line per context, then the totals."""
    totals = report["totals"]
    lines = [
        f"model {report['model']}  graph {report['graph_version'] or 'unversioned'}  "
        f"scorer {report['scorer_version']}",
        "",
        f"{'context':<44} {'n':>4} {'fail':>4} {'abst':>4} {'score':>7} {'pct':>5} "
        f"{'winner':>6} {'supers':>6}  winning value",
    ]
    lines += [_table_row(row) for row in report["contexts"]]
    lines += [
        "",
        f"prompts {totals['prompts']}: {totals['answered']} answered, {totals['failed']} failed, "
        f"{totals['abstained']} abstained (no context, or no ranked values); "
        f"mean score {_cell(report['scores']['mean'], '.3f')}",
    ]
    return "\n".join(lines)


def _table_row(row: dict[str, Any]) -> str:
    name = row["name"] if len(row["name"]) <= 44 else row["name"][:41] + "..."
    winner = next((v["title"] for v in row["values"] if v["role"] == WINNER), "(no ranked values)")
    if row["values"] and not row["winner_published"]:
        winner += " (unpublished)"
    shares = row["best_value_share"]
    cells = [
        f"{row['prompts']:>4}",
        f"{row['failed']:>4}",
        f"{row['abstained']:>4}",
        f"{_cell(row['mean_score'], '.3f'):>7}",
        f"{_cell(row['mean_percentile'], '.0f'):>5}",
        f"{_cell(shares['winner'], '.0%'):>6}",
        f"{_cell(shares['superseded'], '.0%'):>6}",
    ]
    return f"{name:<44} {' '.join(cells)}  {winner}"


def _cell(number: float | None, spec: str) -> str:
    return "-" if number is None else format(number, spec)
