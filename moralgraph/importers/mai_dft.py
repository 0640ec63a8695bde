"""Import MAI's Democratic Fine-Tuning data (read by ``mai_dump``) as a study.

Choices where our models differ from MAI's:

* A card's description is ``instructionsShort`` (current format: ``description``); the
  policies are ``evaluationCriteria`` (current: ``policies``). ``instructionsDetailed``,
  MAI's ids and quality flag go into the card's first ``history`` entry, marked
  ``changed_by: "mai-import"``. Cards MAI marked ``invalid`` stay drafts, so deduplication
  leaves them out.
* Cards have no user or question of their own; both come from ``chat.json`` when it is
  published (it is empty in ``dft-data``), else they stay empty.
* An impression of canonical value V points at V's *representative* card: the member card
  whose text equals V's (so for 106 of 115 it is exactly what was shown), else the
  lowest-numbered member. ``impression.card.canonical_link.value`` is V. A value with no
  member card (7 of 115; one was shown, once) cannot be pointed at: that impression is
  skipped and counted.
* Hypotheses in ``edgeHypothesis.json`` are imported active with their story. A (from, to,
  context) that was voted on but is not there gets an inactive imported hypothesis whose
  story is the latest story shown to a voter (``""`` when MAI only kept ``"OLD"``). MAI's
  generation run id goes in ``prompt_version``.
* One wisdom vote per participant and hypothesis: a repeat keeps the latest and is counted.
* Timestamps are MAI's ``createdAt``; a participant consented at their first dated record.
* Rerunning adds what is missing and never changes a row that exists.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from django.db import connection, models, transaction

from elicitation.models import (
    Context,
    Impression,
    Participant,
    Question,
    Study,
    ValuesCard,
    WisdomVote,
)
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis

from .mai_dump import (
    Dump,
    Record,
    Triple,
    answer_of,
    card_fields,
    context_names,
    demographics_of,
    draw_positions,
    first_seen,
    hypothesis_rows,
    latest_votes,
    parse_time,
    question_key,
    read_dump,
    representative_cards,
    shown_key,
    triple,
    user_ids,
)

BATCH_SIZE = 500
IMPORTED_BY = "mai-import"
DEFAULT_TITLE = "MAI Democratic Fine-Tuning (imported)"
K = TypeVar("K")


@dataclass
class ImportSummary:
    study: Study
    created: Counter[str] = field(default_factory=Counter)
    totals: dict[str, int] = field(default_factory=dict)
    duplicate_votes_dropped: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = [f"Study {self.study.slug!r}: created now / in the study"]
        for kind, total in self.totals.items():
            created = self.created[kind] if kind in self.created else "-"
            out.append(f"  {kind:<32}{created:>6} / {total}")
        out.append(f"  duplicate wisdom votes dropped: {self.duplicate_votes_dropped}")
        out += [f"  skipped {what}: {n}" for what, n in sorted(self.skipped.items()) if n]
        return out


def _by_external_id(rows: models.QuerySet) -> dict[str, int]:
    """Imported rows already there: external id -> primary key."""
    return dict(rows.exclude(external_id="").values_list("external_id", "id").order_by())


class _Writer:
    """Bulk-creates the rows a study lacks and tallies them; never updates a row that exists."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.created: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()

    def add(
        self,
        kind: str,
        existing: Mapping[K, int],
        wanted: Mapping[K, models.Model],
        stamps: Mapping[K, datetime | None] | None = None,
        stamp_field: str = "created_at",
    ) -> dict[K, int]:
        """Create ``wanted`` rows whose key is not in ``existing``; key -> pk for all."""
        new = {key: obj for key, obj in wanted.items() if key not in existing}
        if new:
            model = type(next(iter(new.values())))
            model.objects.bulk_create(list(new.values()), batch_size=BATCH_SIZE)
            if stamps:
                self._restore(model, new, stamps, stamp_field)
        self.created[kind] += len(new)
        return {**existing, **{key: obj.pk for key, obj in new.items()}}

    @staticmethod
    def _restore(model, new: Mapping, stamps: Mapping, stamp_field: str) -> None:
        # auto_now_add overwrites any value on insert, so MAI's timestamps go back in with one
        # prepared UPDATE run for every row (bulk_update's CASE chains take seconds here).
        column = model._meta.get_field(stamp_field)
        rows = [
            (column.get_db_prep_value(stamps[key], connection), obj.pk)
            for key, obj in new.items()
            if stamps.get(key) is not None
        ]
        table, pk = model._meta.db_table, model._meta.pk.column
        quote = connection.ops.quote_name
        # The names come from the model's own metadata, never from input.
        sql = f"UPDATE {quote(table)} SET {quote(column.column)} = %s WHERE {quote(pk)} = %s"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def import_directory(
    directory: Path | str, *, study_slug: str, title: str | None = None
) -> ImportSummary:
    """Read MAI's folder and import it as the study ``study_slug`` (created if missing)."""
    return import_dump(read_dump(directory), study_slug=study_slug, title=title)


def import_dump(dump: Dump, *, study_slug: str, title: str | None = None) -> ImportSummary:
    """Import parsed MAI tables in one transaction; rerunning changes nothing."""
    with transaction.atomic():
        study, _ = Study.objects.get_or_create(
            slug=study_slug,
            defaults={"title": title or DEFAULT_TITLE, "state": Study.State.CLOSED},
        )
        w = _Writer(study)
        questions = _questions(w, dump)
        contexts = _contexts(w, dump, questions)
        participants = _participants(w, dump)
        cards = _cards(w, dump, participants, questions)
        values = _canonical_values(w, dump)
        _card_links(w, dump, cards, values)
        votes, dropped = latest_votes(dump.edges)
        hypotheses = _hypotheses(w, votes, dump, contexts, values)
        _wisdom_votes(w, votes, participants, hypotheses)
        _impressions(w, dump, participants, cards)
    return ImportSummary(study, w.created, study_totals(study), dropped, w.skipped)


def _questions(w: _Writer, dump: Dump) -> dict[Any, int]:
    titles = {case["id"]: str(case.get("title") or case["id"])[:120] for case in dump.cases}
    existing = dict(Question.objects.filter(study=w.study).values_list("title", "id"))
    wanted = {
        titles[case["id"]]: Question(
            study=w.study, title=titles[case["id"]], text=case.get("question") or "", order=i
        )
        for i, case in enumerate(dump.cases)
    }
    ids = w.add("questions", existing, wanted)
    return {case_id: ids[title] for case_id, title in titles.items()}


def _contexts(w: _Writer, dump: Dump, questions: Mapping[Any, int]) -> dict[str, int]:
    existing = dict(Context.objects.filter(study=w.study).values_list("name", "id"))
    wanted = {name: Context(study=w.study, name=name) for name in context_names(dump)}
    ids = w.add("contexts", existing, wanted)
    link = Context.questions.through
    have = set(link.objects.filter(context__study=w.study).values_list("context_id", "question_id"))
    want = {
        (ids[row["contextId"]], questions[question_key(row)])
        for row in dump.context_links
        if question_key(row) in questions
    }
    new = sorted(want - have)
    link.objects.bulk_create([link(context_id=c, question_id=q) for c, q in new])
    w.created["context-question links"] += len(new)
    return ids


def _participants(w: _Writer, dump: Dump) -> dict[Any, int]:
    seen = first_seen(dump)
    answers = {row["userId"]: demographics_of(row) for row in dump.demographics}
    keys = {user: f"mai:{user}" for user in user_ids(dump)}
    existing = _by_external_id(
        Participant.objects.filter(study=w.study, external_id__in=keys.values())
    )
    wanted = {
        key: Participant(
            study=w.study,
            external_id=key,
            consented_at=seen.get(user),
            demographics=answers.get(user, {}),
        )
        for user, key in keys.items()
    }
    ids = w.add("participants", existing, wanted, {k: seen.get(u) for u, k in keys.items()})
    return {user: ids[key] for user, key in keys.items()}


def _import_entry(record: Record) -> dict[str, Any]:
    """The card as MAI published it, with what our card has no field for."""
    extra = {"id": "mai_id", "chatId": "mai_chat_id", "quality": "mai_quality"}
    entry = {**card_fields(record), "context": "", "changed_by": IMPORTED_BY}
    entry["instructions_detailed"] = record.get("instructionsDetailed") or ""
    entry.update({ours: record[theirs] for theirs, ours in extra.items() if theirs in record})
    return entry


def _cards(
    w: _Writer, dump: Dump, participants: Mapping[Any, int], questions: Mapping[Any, int]
) -> dict[Any, int]:
    chats = {chat["id"]: chat for chat in dump.chats}
    existing = _by_external_id(ValuesCard.objects.filter(study=w.study))
    wanted, stamps = {}, {}
    for card in dump.cards:
        key, chat = f"mai:{card['id']}", chats.get(card.get("chatId"), {})
        stamps[key] = parse_time(card.get("createdAt"))
        invalid = card.get("quality") == "invalid"
        wanted[key] = ValuesCard(
            study=w.study,
            participant_id=participants.get(chat.get("userId")),
            question_id=questions.get(question_key(card) or question_key(chat)),
            status=ValuesCard.Status.DRAFT if invalid else ValuesCard.Status.CONFIRMED,
            source=ValuesCard.Source.IMPORTED,
            history=[_import_entry(card)],
            external_id=key,
            confirmed_at=None if invalid else stamps[key],
            **card_fields(card),
        )
    ids = w.add("cards", existing, wanted, stamps)
    return {card["id"]: ids[f"mai:{card['id']}"] for card in dump.cards}


def _canonical_values(w: _Writer, dump: Dump) -> dict[Any, int]:
    existing = _by_external_id(CanonicalValue.objects.filter(study=w.study))
    wanted, stamps = {}, {}
    for value in dump.canonical:
        key = f"mai:{value['id']}"
        wanted[key] = CanonicalValue(study=w.study, external_id=key, **card_fields(value))
        stamps[key] = parse_time(value.get("createdAt"))
    ids = w.add("canonical values", existing, wanted, stamps)
    return {value["id"]: ids[f"mai:{value['id']}"] for value in dump.canonical}


def _card_links(
    w: _Writer, dump: Dump, cards: Mapping[Any, int], values: Mapping[Any, int]
) -> None:
    existing = dict(
        CardLink.objects.filter(card__study=w.study).values_list("card_id", "id").order_by()
    )
    wanted = {}
    for card in dump.cards:
        target = card.get("canonicalCardId")
        if target is not None and target not in values:
            w.skipped["card links to an unknown canonical value"] += 1
        elif target is not None:
            pk = cards[card["id"]]
            wanted[pk] = CardLink(card_id=pk, value_id=values[target], method="imported")
    w.add("card links", existing, wanted)


def _hypotheses(
    w: _Writer,
    votes: list[Record],
    dump: Dump,
    contexts: Mapping[str, int],
    values: Mapping[Any, int],
) -> dict[Triple, int]:
    rows = UpgradeHypothesis.objects.filter(study=w.study).order_by()
    columns = ("context_id", "from_value_id", "to_value_id", "id")
    existing = {(c, a, b): pk for c, a, b, pk in rows.values_list(*columns)}
    wanted, stamps, keys = {}, {}, {}
    for (src, dst, ctx), row in hypothesis_rows(dump.hypotheses, votes).items():
        if src == dst or src not in values or dst not in values:
            w.skipped["hypotheses with an unknown value or a loop"] += 1
            continue
        key = keys[(src, dst, ctx)] = (contexts[ctx], values[src], values[dst])
        wanted[key] = UpgradeHypothesis(
            study=w.study,
            context_id=key[0],
            from_value_id=key[1],
            to_value_id=key[2],
            story=row.story,
            source=UpgradeHypothesis.Source.IMPORTED,
            prompt_version=row.run_id[:64],
            is_active=row.active,
        )
        stamps[key] = row.created
    ids = w.add("hypotheses", existing, wanted, stamps)
    return {mai: ids[key] for mai, key in keys.items()}


def _wisdom_votes(
    w: _Writer,
    votes: list[Record],
    participants: Mapping[Any, int],
    hypotheses: Mapping[Triple, int],
) -> None:
    rows = WisdomVote.objects.filter(hypothesis__study=w.study).order_by()
    columns = ("participant_id", "hypothesis_id", "id")
    existing = {(p, h): pk for p, h, pk in rows.values_list(*columns)}
    wanted, stamps = {}, {}
    for edge in votes:
        hypothesis = hypotheses.get(triple(edge))
        if hypothesis is None:
            w.skipped["wisdom votes on a skipped hypothesis"] += 1
            continue
        key = (participants[edge["userId"]], hypothesis)
        wanted[key] = WisdomVote(
            participant_id=key[0],
            hypothesis_id=hypothesis,
            answer=answer_of(edge),
            reason=edge.get("comment") or "",
        )
        stamps[key] = parse_time(edge.get("createdAt"))
    w.add("wisdom votes", existing, wanted, stamps)


def _impressions(
    w: _Writer, dump: Dump, participants: Mapping[Any, int], cards: Mapping[Any, int]
) -> None:
    shown_as = representative_cards(dump.cards, dump.canonical)
    places = draw_positions(dump.impressions)
    chosen = {shown_key(row) for row in dump.card_votes}
    w.skipped["card votes without an impression"] += len(
        chosen - {shown_key(row) for row in dump.impressions}
    )
    existing = _by_external_id(Impression.objects.filter(participant__study=w.study))
    wanted, stamps = {}, {}
    for row in dump.impressions:
        card = cards.get(shown_as.get(row["valuesCardId"]))
        if card is None:
            w.skipped["impressions of a value with no card"] += 1
            continue
        key = f"mai:{row['id']}"
        wanted[key] = Impression(
            participant_id=participants[row["userId"]],
            card_id=card,
            draw_id=row.get("drawId") or "",
            position=places[row["id"]],
            chosen=shown_key(row) in chosen,
            external_id=key,
        )
        stamps[key] = parse_time(row.get("createdAt"))
    w.add("impressions", existing, wanted, stamps, stamp_field="shown_at")


def study_totals(study: Study) -> dict[str, int]:
    """How many of each kind of row the study holds."""
    link = Context.questions.through
    return {
        "questions": study.questions.count(),
        "contexts": study.contexts.count(),
        "context-question links": link.objects.filter(context__study=study).count(),
        "participants": study.participants.count(),
        "participants with demographics": study.participants.exclude(demographics={}).count(),
        "cards": study.cards.count(),
        "canonical values": study.canonical_values.count(),
        "card links": CardLink.objects.filter(card__study=study).count(),
        "hypotheses": study.hypotheses.count(),
        "wisdom votes": WisdomVote.objects.filter(hypothesis__study=study).count(),
        "impressions": Impression.objects.filter(participant__study=study).count(),
        "chosen impressions": Impression.objects.filter(
            participant__study=study, chosen=True
        ).count(),
    }
