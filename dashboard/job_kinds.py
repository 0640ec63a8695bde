"""What each kind of dashboard job does: deduplicate, generate hypotheses, build the graph,
export, simulate. Each takes the job and a `progress(done, total, message)` callback and returns
(result, closing message); `dashboard.jobs` claims, runs and records them.
"""

import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from elicitation.capabilities import endpoint_check
from elicitation.models import Context
from elicitation.simulation import (
    COMPLETED,
    FAILED,
    FALLBACK,
    NO_CARD,
    ParticipantResult,
    SimulationReport,
    Spend,
    simulate,
)
from moralgraph import context_services, selectors, services
from moralgraph.exporting import study_export
from moralgraph.models import CardLink, GraphBuild

from .models import Job
from .refresh import refresh_message, study_refresh

Progress = Callable[[int, int, str], None]
Runner = Callable[[Job, Progress], tuple[Any, str]]


def _dedupe(job: Job, progress: Progress) -> tuple[dict[str, int], str]:
    """The study's confirmed cards without a canonical value, one by one."""
    cards = list(selectors.cards_awaiting_dedupe(job.study))
    linked = new_values = 0
    progress(0, len(cards), f"{len(cards)} cards to deduplicate.")
    for done, card in enumerate(cards, start=1):
        link = services.card_dedupe(card=card)
        linked += link is not None
        new_values += link is not None and link.method == CardLink.Method.NEW
        progress(done, len(cards), f"{done} of {len(cards)} cards deduplicated.")
    message = f"Linked {linked} cards; {new_values} became new values."
    return {"linked": linked, "new_values": new_values}, message


def _hypotheses(job: Job, progress: Progress) -> tuple[dict[str, int], str]:
    """Upgrade hypotheses in each context that has cards, one context at a time."""
    ids = selectors.contexts_with_cards(job.study_id)
    contexts = Context.objects.filter(pk__in=ids).select_related("study").order_by("id")
    force, stored = bool(job.params.get("force")), 0
    progress(0, len(ids), f"{len(ids)} contexts with cards.")
    for done, context in enumerate(contexts, start=1):
        stored += len(services.hypotheses_generate(context=context, force=force))
        progress(done, len(ids), f"{done} of {len(ids)} contexts; {stored} hypotheses stored.")
    return {"contexts": len(ids), "stored": stored}, f"Stored {stored} new hypotheses."


def _aggregate(job: Job, progress: Progress) -> tuple[dict[str, Any], str]:
    """The moral graph stored as a `GraphBuild`; `Job.result` keeps a summary pointing to it."""
    progress(0, 1, "Reading the votes and computing the moral graph.")
    build = services.graph_build(study=job.study, progress=progress)
    counts = build.summary["counts"]
    summary = {
        "graph_build": build.pk,
        "graph_version": build.graph_version,
        "counts": counts,
        "publishable": build.summary["reliability"]["gate"]["publishable"],
        "changed_since": build.summary.get("changed_since"),
        "recomputed": build.summary.get("recomputed"),
    }
    message = (
        f"{counts['votes']} votes by {counts['raters']} voters on {counts['values']} values "
        f"in {counts['contexts']} contexts."
    )
    return summary, message


def _export(job: Job, progress: Progress) -> tuple[dict[str, Any], str]:
    """The bundle under MGE_EXPORT_ROOT/<slug>/job-<id>/bundle, and a zip of it beside."""
    root = export_root()
    folder = root / job.study.slug / f"job-{job.pk}"
    include_votes = bool(job.params.get("include_votes"))
    progress(0, 2, "Writing the bundle.")
    salt = settings.MGE_EXPORT_SALT if include_votes else None
    earlier = job.params.get("compare_with")
    bundle = study_export(
        job.study,
        folder / "bundle",
        include_votes=include_votes,
        salt=salt,
        compare_with=GraphBuild.objects.get(study=job.study, pk=earlier) if earlier else None,
    )
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    progress(1, 2, "Zipping the bundle.")
    name = f"{job.study.slug}-{manifest['graph_version'][:12]}"
    archive = Path(shutil.make_archive(str(folder / name), "zip", folder, "bundle"))
    progress(2, 2, "Written.")
    result = {
        "graph_version": manifest["graph_version"],
        "path": str(bundle.relative_to(root)),
        "zip": str(archive.relative_to(root)),
        "files": sorted(manifest["files"]),
        "counts": manifest["counts"],
        "include_votes": include_votes,
        "compare_with": earlier,
    }
    return result, f"Graph version {manifest['graph_version'][:12]}."


def _simulate(job: Job, progress: Progress) -> tuple[dict[str, Any], str]:
    """Simulated participants through the real journey; progress per finished participant."""
    total = job.params["participants"]
    finished = itertools.count(1)
    progress(0, total, f"{total} simulated participants starting.")

    def participant_done(result: ParticipantResult) -> None:
        done = next(finished)
        progress(done, total, f"{done} of {total} participants finished ({result.status}).")

    report = simulate(
        study=job.study,
        participants=total,
        concurrency=settings.MGE_SIMULATE_CONCURRENCY,
        on_result=participant_done,
    )
    summary = simulation_summary(report)
    return summary, f"Completed {summary['completed']} of {total} participants."


def simulation_summary(report: SimulationReport) -> dict[str, Any]:
    spend = Spend.total(report.spend)
    return {
        "run_id": report.run_id,
        "participants": len(report.results),
        "completed": report.count(COMPLETED),
        "cards": report.cards,
        "votes": report.votes,
        "fallbacks": report.count(FALLBACK),
        "no_card": report.count(NO_CARD),
        "failed": report.count(FAILED),
        "llm_calls": spend.calls,
        "tokens_in": spend.tokens_in,
        "tokens_out": spend.tokens_out,
        "cost_usd": f"{spend.cost_usd:.4f}",
        "wall_seconds": round(report.wall_seconds, 1),
        "text": report.summary(),
    }


def _refresh(job: Job, progress: Progress) -> tuple[dict[str, Any], str]:
    """Everything the study's cadence runs: see `dashboard.refresh`."""
    done = study_refresh(study=job.study, progress=progress)
    return done, refresh_message(done)


def _contexts(job: Job, progress: Progress) -> tuple[dict[str, int], str]:
    """The model's proposed contexts for each question, added to those it has."""
    questions = list(job.study.questions.order_by("order", "id"))
    made = 0
    for done, question in enumerate(questions, start=1):
        made += len(context_services.contexts_propose(question=question))
        progress(done, len(questions), f"{done} of {len(questions)} questions.")
    return {"questions": len(questions), "contexts": made}, f"Added {made} contexts."


def _llm_check(job: Job, progress: Progress) -> tuple[dict[str, bool], str]:
    """Probe the endpoint with the study's model and store what works."""
    report = endpoint_check(model=job.study.model_name, study_id=job.study_id, progress=progress)
    works = [name for name, ok in report.found.items() if ok] or ["none of the features"]
    return report.found, f"{report.model} supports: {', '.join(works)}."


RUNNERS: dict[str, Runner] = {
    Job.Kind.DEDUPE: _dedupe,
    Job.Kind.HYPOTHESES: _hypotheses,
    Job.Kind.AGGREGATE: _aggregate,
    Job.Kind.EXPORT: _export,
    Job.Kind.SIMULATE: _simulate,
    Job.Kind.REFRESH: _refresh,
    Job.Kind.CONTEXTS: _contexts,
    Job.Kind.LLM_CHECK: _llm_check,
}


# --- reading exports ---


def export_root() -> Path:
    return Path(settings.MGE_EXPORT_ROOT).resolve()


def export_archive(job: Job) -> Path | None:
    """The zip of a finished export if it is still there; never a path outside the root."""
    name = (job.result or {}).get("zip") if job.state == Job.State.DONE else None
    if job.kind != Job.Kind.EXPORT or not isinstance(name, str):
        return None
    root = export_root()
    path = (root / name).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None
