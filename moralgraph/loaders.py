"""The only adapter between the database and the pure core: rows in, plain data out.

Reads go through ``values_list(...).iterator()``, so no model instance is built per vote.
A vote's values and context are its hypothesis's: ``from_value``/``to_value`` are
:class:`CanonicalValue` ids, the context a :class:`Context` id, and the rater the
participant's id as a string (the key of :func:`study_rater_groups`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from django.db import connections
from django.db.models import Count, FloatField, Func, Min, OuterRef, QuerySet, Subquery
from django.db.models.functions import Length

from elicitation.models import Context, Impression, Participant, Study, WisdomVote

from .core.raters import RaterArrival, TimedVote
from .core.types import ANSWER_CODES, VoteArrays
from .export import ContextInput, ValueInput
from .models import CanonicalValue, RaterExclusion, UpgradeHypothesis

CHUNK_SIZE = 10_000


class Epoch(Func):
    """A datetime as seconds since 1970 (UTC), worked out by the database, so that no
    ``datetime`` is built per row. SQLite keeps datetimes as text; its ``strftime('%s')``
    drops the fraction, which is added back from the text to the microsecond."""

    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS double precision)",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        text = f"CAST(strftime('%%s', {sql}) AS REAL) + CAST('0' || substr({sql}, 20) AS REAL)"
        return f"({text})", (*params, *params)


@dataclass(frozen=True)
class VoteLabels:
    """Names for the ids in a :class:`VoteArrays`: value titles and context names."""

    values: dict[int, str]
    contexts: dict[int, str]


def study_vote_arrays(study: Study) -> tuple[VoteArrays, VoteLabels]:
    """Every wisdom vote of the study as columns, and the names behind the ids."""
    arrays, labels, _ = study_votes(study, timed=False)
    return arrays, labels


def study_votes(
    study: Study, *, timed: bool = True
) -> tuple[VoteArrays, VoteLabels, list[TimedVote]]:
    """Every wisdom vote of the study, read in one pass: as columns with the names behind the
    ids, and (``timed``) as the timed votes the rater checks read (see
    :func:`study_timed_votes`)."""
    columns = [*_ARRAY_COLUMNS, "hypothesis_id", *(_timing_columns() if timed else ())]
    rows = (
        WisdomVote.objects.filter(hypothesis__study=study)
        .order_by(
            "hypothesis__context_id",
            "hypothesis__from_value_id",
            "hypothesis__to_value_id",
            "participant_id",
        )
        .values_list(*columns)
    )
    rater, src, dst, context, answer, timed_votes = [], [], [], [], [], []
    chars = _hypothesis_chars(study) if timed else {}
    for chunk in raw_chunks(rows):
        cells = list(zip(*chunk, strict=True))
        raters = list(map(str, cells[0]))
        rater.extend(raters)
        src.extend(cells[1])
        dst.extend(cells[2])
        context.extend(cells[3])
        answer.extend(ANSWER_CODES[a] for a in cells[4])
        if timed:
            timed_votes.extend(_timed(raters, *cells[4:], chars))
    votes = VoteArrays.from_columns(
        np.asarray(rater, dtype=str),
        np.asarray(src, dtype=np.int64),
        np.asarray(dst, dtype=np.int64),
        np.asarray(context, dtype=np.int64),
        np.asarray(answer, dtype=np.int8),
    )
    return votes, _labels(votes), timed_votes


_ARRAY_COLUMNS = (
    "participant_id",
    "hypothesis__from_value_id",
    "hypothesis__to_value_id",
    "hypothesis__context_id",
    "answer",
)


def _timing_columns() -> tuple[Epoch, Epoch]:
    """When each vote's hypothesis was first shown to its voter, and when the vote came."""
    first_shown = (
        Impression.objects.filter(
            participant=OuterRef("participant_id"), hypothesis=OuterRef("hypothesis_id")
        )
        .order_by()
        .values("hypothesis")
        .annotate(first=Min("shown_at"))
        .values("first")
    )
    return Epoch(Subquery(first_shown)), Epoch("created_at")


def _timed(
    raters: list[str], answers, items, shown, voted, chars: dict[int, int]
) -> Iterator[TimedVote]:
    for rater, answer, item, first, at in zip(raters, answers, items, shown, voted, strict=True):
        yield TimedVote(rater, item, answer, first, at, chars.get(item, 0))


def raw_chunks(queryset: QuerySet) -> Iterator[list[tuple]]:
    """The rows of a ``values_list`` query as the database driver gives them, a chunk at a
    time (a server-side cursor where the database has them, as ``.iterator()`` uses): no
    Django converter runs per value, so only for columns that need none (ids, text, the
    floats of :class:`Epoch`)."""
    sql, params = queryset.query.sql_with_params()
    with connections[queryset.db].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(CHUNK_SIZE):
            yield chunk


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
    columns = rows.values_list("id", "client_hash", Epoch("created_at"))
    return [
        RaterArrival(str(pk), client, created)
        for chunk in raw_chunks(columns)
        for pk, client, created in chunk
    ]


def study_rater_clients(study: Study) -> dict[str, str]:
    """Rater id -> keyed hash of the client it came from, for participants with one."""
    rows = Participant.objects.filter(study=study).exclude(client_hash="").order_by("id")
    return {str(pk): client for pk, client in rows.values_list("id", "client_hash")}


def study_timed_votes(study: Study) -> list[TimedVote]:
    """Every vote with when its hypothesis was first shown to the voter and how long the
    shown text was (story, both values, context)."""
    rows = (
        WisdomVote.objects.filter(hypothesis__study=study)
        .order_by("id")
        .values_list("participant_id", "answer", "hypothesis_id", *_timing_columns())
    )
    chars = _hypothesis_chars(study)
    timed: list[TimedVote] = []
    for chunk in raw_chunks(rows):
        cells = list(zip(*chunk, strict=True))
        timed.extend(_timed(list(map(str, cells[0])), *cells[1:], chars))
    return timed


def _hypothesis_chars(study: Study) -> dict[int, int]:
    """Characters each hypothesis shows: its story, its context's name and both values'
    title, description and policies (each value read once, however many hypotheses use it)."""
    values = CanonicalValue.objects.filter(study=study).values_list(
        "id", "title", "description", "policies"
    )
    value_chars = {
        pk: len(title) + len(description) + _text_length(policies)
        for pk, title, description, policies in values.iterator(chunk_size=CHUNK_SIZE)
    }
    contexts = Context.objects.filter(study=study).values_list("id", Length("name"))
    context_chars = dict(contexts)
    rows = UpgradeHypothesis.objects.filter(study=study).values_list(
        "id", Length("story"), "context_id", "from_value_id", "to_value_id"
    )
    return {
        pk: (story or 0)
        + context_chars.get(context, 0)
        + value_chars.get(low, 0)
        + value_chars.get(high, 0)
        for pk, story, context, low, high in rows.iterator(chunk_size=CHUNK_SIZE)
    }


def _text_length(part: object) -> int:
    if isinstance(part, list):
        return sum(len(str(item)) for item in part)
    return len(part) if isinstance(part, str) else 0


def study_exclusions(study: Study) -> list[tuple[str, str]]:
    """The organizer's excluded cohorts: (kind, value) pairs."""
    rows = RaterExclusion.objects.filter(study=study).order_by("kind", "value")
    return list(rows.values_list("kind", "value"))
