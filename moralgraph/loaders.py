"""The only adapter between the database and the pure core: rows in, plain data out.

Reads go through ``values_list(...).iterator()``, so no model instance is built per vote.
A vote's values and context are its hypothesis's: ``from_value``/``to_value`` are
:class:`CanonicalValue` ids, the context a :class:`Context` id, and the rater the
participant's id as a string (the key of :func:`study_rater_groups`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Min, OuterRef, QuerySet, Subquery

from elicitation.models import Context, Impression, Participant, Study, WisdomVote

from .core.raters import RaterArrival, TimedVote
from .core.types import ANSWER_CODES, VoteArrays
from .export import ContextInput, ValueInput
from .models import CanonicalValue, RaterExclusion, UpgradeHypothesis

CHUNK_SIZE = 10_000


@dataclass(frozen=True)
class VoteLabels:
    """Names for the ids in a :class:`VoteArrays`: value titles and context names."""

    values: dict[int, str]
    contexts: dict[int, str]


def study_vote_arrays(study: Study) -> tuple[VoteArrays, VoteLabels]:
    """Every wisdom vote of the study as columns, and the names behind the ids."""
    rows = (
        WisdomVote.objects.filter(hypothesis__study=study)
        .order_by(
            "hypothesis__context_id",
            "hypothesis__from_value_id",
            "hypothesis__to_value_id",
            "participant_id",
        )
        .values_list(
            "participant_id",
            "hypothesis__from_value_id",
            "hypothesis__to_value_id",
            "hypothesis__context_id",
            "answer",
        )
    )
    rater, src, dst, context, answer = [], [], [], [], []
    for row in rows.iterator(chunk_size=CHUNK_SIZE):
        rater.append(str(row[0]))
        src.append(row[1])
        dst.append(row[2])
        context.append(row[3])
        answer.append(ANSWER_CODES[row[4]])
    votes = VoteArrays.from_columns(
        np.asarray(rater, dtype=str),
        np.asarray(src, dtype=np.int64),
        np.asarray(dst, dtype=np.int64),
        np.asarray(context, dtype=np.int64),
        np.asarray(answer, dtype=np.int8),
    )
    return votes, _labels(votes)


def _labels(votes: VoteArrays) -> VoteLabels:
    values = CanonicalValue.objects.filter(pk__in=list(votes.values)).order_by("id")
    contexts = Context.objects.filter(pk__in=list(votes.contexts)).order_by("id")
    return VoteLabels(
        values=dict(values.values_list("id", "title")),
        contexts=dict(contexts.values_list("id", "name")),
    )


def study_rater_groups(study: Study, field: str = "usPoliticalAffiliation") -> dict[str, str]:
    """Rater id (as in :func:`study_vote_arrays`) -> their answer to demographic ``field``.

    Participants without a usable answer are left out; bridging then ignores them.
    """
    rows = (
        Participant.objects.filter(study=study, demographics__has_key=field)
        .order_by("id")
        .values_list("id", f"demographics__{field}")
    )
    return {
        str(pk): str(answer)
        for pk, answer in rows.iterator(chunk_size=CHUNK_SIZE)
        if answer not in (None, "")
    }


def study_values(study: Study) -> list[ValueInput]:
    """The study's live canonical values, by id, with how many cards each gathers."""
    return _values(CanonicalValue.objects.filter(study=study, merged_into__isnull=True))


def study_values_named(study: Study, ids: Iterable[int]) -> list[ValueInput]:
    """The values with these ids, live or merged away (then saying into which), by id."""
    return _values(CanonicalValue.objects.filter(study=study, pk__in=list(ids)))


def _values(values: QuerySet[CanonicalValue]) -> list[ValueInput]:
    rows = (
        values.annotate(card_count=Count("card_links"))
        .order_by("id")
        .values_list("id", "title", "description", "policies", "card_count", "merged_into_id")
    )
    return [
        ValueInput(pk, title, description, tuple(policies or ()), count, merged_into)
        for pk, title, description, policies, count, merged_into in rows.iterator(
            chunk_size=CHUNK_SIZE
        )
    ]


def study_contexts(study: Study) -> list[ContextInput]:
    """The study's contexts, by id, with the questions each applies to."""
    link = Context.questions.through
    questions: dict[int, list[int]] = {}
    pairs = link.objects.filter(context__study=study).order_by("context_id", "question_id")
    for context_id, question_id in pairs.values_list("context_id", "question_id"):
        questions.setdefault(context_id, []).append(question_id)
    rows = Context.objects.filter(study=study).order_by("id").values_list("id", "name")
    return [ContextInput(pk, name, tuple(questions.get(pk, ()))) for pk, name in rows]


def study_rater_arrivals(study: Study) -> list[RaterArrival]:
    """Every participant of the study (voter or not) with their client hash and arrival."""
    rows = Participant.objects.filter(study=study).order_by("id")
    return [
        RaterArrival(str(pk), client, created.timestamp())
        for pk, client, created in rows.values_list("id", "client_hash", "created_at").iterator(
            chunk_size=CHUNK_SIZE
        )
    ]


def study_rater_clients(study: Study) -> dict[str, str]:
    """Rater id -> keyed hash of the client it came from, for participants with one."""
    rows = Participant.objects.filter(study=study).exclude(client_hash="").order_by("id")
    return {str(pk): client for pk, client in rows.values_list("id", "client_hash")}


def study_timed_votes(study: Study) -> list[TimedVote]:
    """Every vote with when its hypothesis was first shown to the voter and how long the
    shown text was (story, both values, context)."""
    first_shown = (
        Impression.objects.filter(
            participant=OuterRef("participant_id"), hypothesis=OuterRef("hypothesis_id")
        )
        .order_by()
        .values("hypothesis")
        .annotate(first=Min("shown_at"))
        .values("first")
    )
    rows = (
        WisdomVote.objects.filter(hypothesis__study=study)
        .annotate(shown_at=Subquery(first_shown))
        .order_by("id")
        .values_list("participant_id", "hypothesis_id", "answer", "shown_at", "created_at")
    )
    chars = _hypothesis_chars(study)
    return [
        TimedVote(
            str(rater),
            item,
            answer,
            shown.timestamp() if shown else None,
            voted.timestamp(),
            chars.get(item, 0),
        )
        for rater, item, answer, shown, voted in rows.iterator(chunk_size=CHUNK_SIZE)
    ]


def _hypothesis_chars(study: Study) -> dict[int, int]:
    rows = UpgradeHypothesis.objects.filter(study=study).values_list(
        "id",
        "story",
        "context__name",
        "from_value__title",
        "from_value__description",
        "from_value__policies",
        "to_value__title",
        "to_value__description",
        "to_value__policies",
    )
    return {row[0]: sum(_text_length(part) for part in row[1:]) for row in rows}


def _text_length(part: object) -> int:
    if isinstance(part, list):
        return sum(len(str(item)) for item in part)
    return len(part) if isinstance(part, str) else 0


def study_exclusions(study: Study) -> list[tuple[str, str]]:
    """The organizer's excluded cohorts: (kind, value) pairs."""
    rows = RaterExclusion.objects.filter(study=study).order_by("kind", "value")
    return list(rows.values_list("kind", "value"))
