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
from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Min,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Length

from elicitation.models import Context, Impression, Participant, Study, WisdomVote

from .columns import CHUNK_SIZE, query_columns, raw_chunks
from .core.raters import RaterArrival, TimedColumns
from .core.types import ANSWER_CODES, ANSWERS, VoteArrays
from .export import ContextInput, ValueInput
from .models import CanonicalValue, RaterExclusion, UpgradeHypothesis


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
) -> tuple[VoteArrays, VoteLabels, TimedColumns | None]:
    """Every wisdom vote of the study, read in one pass: as columns with the names behind the
    ids, and (``timed``) as the timed votes the rater checks read (see
    :func:`study_timed_votes`). Votes are in (context, from, to, rater, vote id) order."""
    names = [*_VOTE_COLUMNS, "vote_answer", *(_TIMING_COLUMNS if timed else ())]
    query = _vote_query(study, timed).values_list(*names)
    found = dict(
        zip(names, query_columns(query, [_DTYPES.get(n, "i8") for n in names]), strict=True)
    )
    order = np.lexsort([found[name] for name in reversed(_VOTE_COLUMNS)])
    found = {name: column[order] for name, column in found.items()}
    raters = found["vote_rater"].astype(str)
    votes = VoteArrays.from_columns(
        raters,
        found["vote_src"],
        found["vote_dst"],
        found["vote_context"],
        found["vote_answer"].astype(np.int8),
    )
    if timed:
        found["vote_shown"] = _first_shown(study, found["vote_rater"], found["vote_item"])
    timed_votes = _timed(found, _hypothesis_chars(study)) if timed else None
    return votes, _labels(study, votes), timed_votes


#: A vote's columns, in the order votes are sorted by (the vote's id breaks ties).
_VOTE_COLUMNS = ("vote_context", "vote_src", "vote_dst", "vote_rater", "vote_id")
_TIMING_COLUMNS = ("vote_item", "vote_at")
_DTYPES = {"vote_at": "f8"}


def _vote_query(study: Study, timed: bool) -> QuerySet:
    answer = Case(
        *(When(answer=name, then=Value(code)) for name, code in ANSWER_CODES.items()),
        output_field=IntegerField(),
    )
    query = WisdomVote.objects.filter(hypothesis__study=study).order_by()
    query = query.annotate(
        vote_context=F("hypothesis__context_id"),
        vote_src=F("hypothesis__from_value_id"),
        vote_dst=F("hypothesis__to_value_id"),
        vote_rater=F("participant_id"),
        vote_id=F("id"),
        vote_answer=answer,
    )
    if timed:
        query = query.annotate(vote_item=F("hypothesis_id"), **_timing_columns())
    return query


def _timing_columns() -> dict[str, Func]:
    """When each vote came (when its hypothesis was first shown is joined in afterwards: see
    :func:`_first_shown`)."""
    return {"vote_at": Epoch("created_at")}


def _first_shown(study: Study, rater: np.ndarray, item: np.ndarray) -> np.ndarray:
    """When each (rater, hypothesis) was first shown, NaN if never recorded: one grouped read
    of the study's impressions, joined to the votes in numpy. (A subquery per vote gave the
    same columns; on a 1M-vote study with an impression per vote both reads took 8-10 s.)"""
    rows = (
        Impression.objects.filter(hypothesis__study=study)
        .order_by()
        .values("participant_id", "hypothesis_id")
        .annotate(first=Epoch(Min("shown_at")))
        .values_list("participant_id", "hypothesis_id", "first")
    )
    who, what, first = query_columns(rows, ["i8", "i8", "f8"])
    width = int(max(item.max(initial=0), what.max(initial=0))) + 1
    known = who * width + what
    order = np.argsort(known)
    return _looked_up(known[order], first[order], rater * width + item, np.nan)


def _timed(found: dict[str, np.ndarray], chars: CharsById) -> TimedColumns:
    raters, rater = np.unique(found["vote_rater"], return_inverse=True)
    return TimedColumns(
        tuple(raters.astype(str).tolist()),
        rater.reshape(-1),
        found["vote_item"],
        ANSWERS,
        found["vote_answer"],
        found["vote_shown"],
        found["vote_at"],
        chars.of(found["vote_item"]).astype(np.float64),
    )


def _labels(study: Study, votes: VoteArrays) -> VoteLabels:
    """Titles and names of the values and contexts the votes name (read by study, not by a
    list of a hundred thousand ids)."""
    return VoteLabels(
        values=_names(CanonicalValue, "title", study, votes.values),
        contexts=_names(Context, "name", study, votes.contexts),
    )


def _names(model: type, field: str, study: Study, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    rows = model.objects.filter(study=study).order_by("id").values_list("id", field)
    found = {pk: name for pk, name in rows.iterator(chunk_size=CHUNK_SIZE) if pk in wanted}
    missing = sorted(wanted - found.keys())  # another study's, if a hypothesis crossed over
    found.update(model.objects.filter(pk__in=missing).values_list("id", field))
    return dict(sorted(found.items()))


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


def study_timed_votes(study: Study) -> TimedColumns:
    """Every vote with when its hypothesis was first shown to the voter and how long the
    shown text was (story, both values, context)."""
    return study_votes(study)[2]


@dataclass(frozen=True)
class CharsById:
    """Characters of text per id (ids sorted): of each hypothesis, value or context."""

    ids: np.ndarray
    chars: np.ndarray

    def of(self, ids: np.ndarray) -> np.ndarray:
        """The characters of each of ``ids`` (0 for an id not here)."""
        return _looked_up(self.ids, self.chars, ids, 0)


def _looked_up(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray, missing) -> np.ndarray:
    """The value of each of ``wanted`` in ``keys`` (sorted), ``missing`` where it is absent."""
    if len(keys) == 0:
        return np.full(len(wanted), missing, dtype=np.result_type(values, type(missing)))
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, values[at], missing)


def _hypothesis_chars(study: Study) -> CharsById:
    """Characters each hypothesis shows: its story, its context's name and both values'
    title, description and policies (each value read once, however many hypotheses use it)."""
    values = CanonicalValue.objects.filter(study=study).order_by("id")
    value_rows = values.values_list("id", "title", "description", "policies")
    value_chars = CharsById(
        *_sorted_lengths(
            (pk, len(title) + len(description) + _text_length(policies))
            for pk, title, description, policies in value_rows.iterator(chunk_size=CHUNK_SIZE)
        )
    )
    contexts = Context.objects.filter(study=study).order_by("id")
    context_chars = CharsById(*_sorted_lengths(contexts.values_list("id", Length("name"))))
    rows = (
        UpgradeHypothesis.objects.filter(study=study)
        .annotate(story_chars=Coalesce(Length("story"), 0))
        .order_by("id")
        .values_list("id", "story_chars", "context_id", "from_value_id", "to_value_id")
    )
    ids, story, context, low, high = query_columns(rows, ["i8"] * 5)
    total = story + context_chars.of(context) + value_chars.of(low) + value_chars.of(high)
    return CharsById(ids, total)


def _sorted_lengths(pairs: Iterable[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    table = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
    return table[:, 0], table[:, 1]


def _text_length(part: object) -> int:
    if isinstance(part, list):
        return sum(len(str(item)) for item in part)
    return len(part) if isinstance(part, str) else 0


def study_exclusions(study: Study) -> list[tuple[str, str]]:
    """The organizer's excluded cohorts: (kind, value) pairs."""
    rows = RaterExclusion.objects.filter(study=study).order_by("kind", "value")
    return list(rows.values_list("kind", "value"))
