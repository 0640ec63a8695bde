"""When a study updates itself: after every N new confirmed cards, or M minutes after the last
update while something waits, as the organizer set on the study. Checked when a card is
confirmed and by a periodic task (`dashboard.tasks.studies_refresh_due`, Celery beat, or
`manage.py refresh_studies` from cron); the update itself is a `refresh` job.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from elicitation.models import Study, ValuesCard, WisdomVote
from moralgraph import selectors as graph_selectors

from .jobs import job_start
from .models import Job


@dataclass(frozen=True)
class Pending:
    """What the next update would do, and when it is due."""

    new_cards: int
    cards_not_deduplicated: int
    contexts_not_matched: int
    contexts_without_hypotheses: int
    votes_not_in_graph: int
    due_at: datetime | None  # None: not by time
    cards_until_due: int | None  # None: not by count

    @property
    def anything(self) -> bool:
        return any(
            (
                self.new_cards,
                self.cards_not_deduplicated,
                self.contexts_not_matched,
                self.contexts_without_hypotheses,
                self.votes_not_in_graph,
            )
        )


def new_confirmed_cards(study: Study) -> QuerySet[ValuesCard]:
    """Cards confirmed since the study's last update started (all of them before the first)."""
    cards = ValuesCard.objects.filter(study=study, status=ValuesCard.Status.CONFIRMED)
    if study.refreshed_at is not None:
        cards = cards.filter(confirmed_at__gt=study.refreshed_at)
    return cards


def study_pending(study: Study) -> Pending:
    """Every count the overview shows; a few queries plus one per context with cards."""
    new_cards = new_confirmed_cards(study).count()
    every = study.refresh_every_cards
    return Pending(
        new_cards=new_cards,
        cards_not_deduplicated=graph_selectors.cards_awaiting_dedupe(study).count(),
        contexts_not_matched=graph_selectors.contexts_awaiting_match(study).count(),
        contexts_without_hypotheses=len(graph_selectors.contexts_needing_hypotheses(study)),
        votes_not_in_graph=_votes_not_in_graph(study),
        due_at=_due_by_time(study),
        cards_until_due=max(0, every - new_cards) if every else None,
    )


def study_refresh_due(study: Study, *, now: datetime | None = None) -> bool:
    """Due by count (N new confirmed cards), or by time (M minutes since the last update, or
    none yet) while cards, contexts or votes wait. A cheap check: a few queries."""
    every = study.refresh_every_cards
    if every and new_confirmed_cards(study).count() >= every:
        return True
    due_at = _due_by_time(study)
    return due_at is not None and due_at <= (now or timezone.now()) and _something_waits(study)


def study_refresh_if_due(*, study: Study, now: datetime | None = None) -> Job | None:
    """Start the study's update when due and the study is open; the running one if it is."""
    if study.state != Study.State.OPEN or not study_refresh_due(study, now=now):
        return None
    return job_start(study=study, kind=Job.Kind.REFRESH)


def studies_with_cadence() -> QuerySet[Study]:
    cadence = Q(refresh_every_cards__isnull=False) | Q(refresh_every_minutes__isnull=False)
    return Study.objects.filter(cadence, state=Study.State.OPEN).order_by("id")


def _due_by_time(study: Study) -> datetime | None:
    minutes = study.refresh_every_minutes
    if minutes is None:
        return None
    if study.refreshed_at is None:
        return study.created_at
    return study.refreshed_at + timedelta(minutes=minutes)


def _something_waits(study: Study) -> bool:
    return (
        new_confirmed_cards(study).exists()
        or graph_selectors.cards_awaiting_dedupe(study).exists()
        or graph_selectors.contexts_awaiting_match(study).exists()
        or _votes_not_in_graph(study) > 0
    )


def _votes_not_in_graph(study: Study) -> int:
    votes = WisdomVote.objects.filter(hypothesis__study=study).count()
    stamp = graph_selectors.latest_graph_build_stamp(study)
    return max(0, votes - (stamp["votes"] if stamp else 0))
