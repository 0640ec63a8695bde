"""A study's live numbers for the dashboard: one snapshot, plain JSON, a handful of queries."""

from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from elicitation.costcaps import study_caps_summary
from elicitation.models import Interview, LLMCall, Participant, Study, ValuesCard, WisdomVote
from moralgraph.models import CanonicalValue, UpgradeHypothesis
from moralgraph.selectors import latest_graph_build_stamp

from .models import Job

RECENT_JOBS = 5


def study_progress(study: Study) -> dict[str, Any]:
    """Participants, interviews, cards, values, votes, LLM spend and recent jobs of ``study``."""
    participants = Participant.objects.filter(study=study).aggregate(
        total=Count("id"),
        consented=Count("id", filter=Q(consented_at__isnull=False)),
        declined=Count("id", filter=Q(declined_at__isnull=False)),
        completed=Count("id", filter=Q(completed_at__isnull=False)),
        withdrawn=Count("id", filter=Q(withdrawn_at__isnull=False)),
    )
    interviews = _counts_by(Interview.objects.filter(question__study=study), "status")
    cards = _counts_by(ValuesCard.objects.filter(study=study), "status")
    calls = LLMCall.objects.filter(study=study).aggregate(
        calls=Count("id"),
        failed=Count("id", filter=~Q(error="")),
        tokens_in_sum=Sum("tokens_in"),
        tokens_out_sum=Sum("tokens_out"),
        cost=Sum("cost_usd"),
        unpriced=Count(
            "id", filter=Q(cost_usd__isnull=True) & (Q(tokens_in__gt=0) | Q(tokens_out__gt=0))
        ),
    )
    votes = WisdomVote.objects.filter(hypothesis__study=study).count()
    return {
        "participants": participants,
        "interviews": {"total": sum(interviews.values()), **interviews},
        "cards": {"total": sum(cards.values()), **cards},
        "values": CanonicalValue.objects.filter(study=study, merged_into__isnull=True).count(),
        "hypotheses": UpgradeHypothesis.objects.filter(study=study, is_active=True).count(),
        "votes": votes,
        "voters": WisdomVote.objects.filter(hypothesis__study=study)
        .values("participant_id")
        .distinct()
        .count(),
        "llm": {
            "calls": calls["calls"],
            "failed": calls["failed"],
            "tokens_in": calls["tokens_in_sum"] or 0,
            "tokens_out": calls["tokens_out_sum"] or 0,
            "cost_usd": _spend_text(calls["cost"], calls["unpriced"]),
            "tokens_spent": study.tokens_spent,
            "token_budget": study.token_budget,
            "caps": study_caps_summary(study, spent_usd=calls["cost"] or Decimal(0)),
        },
        "jobs": [_job_row(job) for job in _watched_jobs(study)],
        "graph": _graph_stamp(study, votes),
    }


def _graph_stamp(study: Study, votes: int) -> dict[str, Any] | None:
    """The newest stored graph: when, its version, and how many votes came in since."""
    stamp = latest_graph_build_stamp(study)
    if stamp is None:
        return None
    return {
        "built_at": stamp["built_at"].isoformat(),
        "built_at_text": f"{stamp['built_at']:%Y-%m-%d %H:%M} UTC",
        "version": stamp["graph_version"][:12],
        "votes": stamp["votes"],
        "votes_since": max(0, votes - stamp["votes"]),
    }


def _watched_jobs(study: Study) -> list[Job]:
    """Every unfinished job of the study, then the most recent finished ones."""
    jobs = Job.objects.filter(study=study)
    unfinished = list(jobs.filter(state__in=[Job.State.QUEUED, Job.State.RUNNING]))
    finished = jobs.filter(state__in=[Job.State.DONE, Job.State.FAILED])[:RECENT_JOBS]
    return unfinished + list(finished)


def _counts_by(queryset, field: str) -> dict[str, int]:
    rows = queryset.values(field).annotate(n=Count("id")).order_by(field)
    return {row[field]: row["n"] for row in rows}


def _spend_text(cost: Decimal | None, unpriced: int) -> str:
    """The priced calls' USD; calls of a model without a price are never given one."""
    if unpriced and cost is None:
        return "price not set"
    if unpriced:
        return f"{_money(cost)} + {unpriced} calls without a price"
    return _money(cost)


def _money(value: Decimal | None) -> str:
    return f"{value or Decimal(0):.4f}"


def _job_row(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "label": job.get_kind_display(),
        "state": job.shown_state,
        "percent": job.percent,
        "message": job.message,
    }
