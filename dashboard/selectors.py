"""Reads for the dashboard's transcripts, values and graph pages; each costs a fixed few queries."""

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils.crypto import salted_hmac

from elicitation.models import (
    Context,
    Interview,
    LLMCall,
    Message,
    Question,
    Study,
    ValuesCard,
    WisdomVote,
)
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis
from moralgraph.selectors import live_values

SPOKEN = (Message.Role.USER, Message.Role.ASSISTANT)


def participant_short_id(participant_id: int | None) -> str:
    """A stable, opaque label for a participant: neither their token nor their Prolific id."""
    if participant_id is None:
        return ""
    return salted_hmac("dashboard.participant", str(participant_id)).hexdigest()[:8]


# --- transcripts ---


@dataclass(frozen=True)
class InterviewRow:
    interview: Interview
    participant: str


@dataclass(frozen=True)
class ProposedCard:
    """The card an assistant message proposed through a tool call; `raw` when unreadable."""

    tool: str
    title: str = ""
    description: str = ""
    policies: tuple[str, ...] = ()
    context: str = ""
    raw: str = ""


@dataclass(frozen=True)
class TranscriptEntry:
    message: Message
    proposed: list[ProposedCard]


def study_interviews(
    study: Study, *, status: str = "", question_id: int | None = None
) -> QuerySet[Interview]:
    """The study's interviews, newest first, with their question, card and message counts."""
    interviews = (
        Interview.objects.filter(question__study=study)
        .select_related("question", "card")
        .annotate(
            message_count=Count("messages", filter=Q(messages__role__in=SPOKEN)),
            last_activity=Coalesce(Max("messages__created_at"), "updated_at"),
        )
        .order_by("-created_at", "-id")
    )
    if status:
        interviews = interviews.filter(status=status)
    if question_id:
        interviews = interviews.filter(question_id=question_id)
    return interviews


def interview_rows(interviews: Iterable[Interview]) -> list[InterviewRow]:
    return [InterviewRow(i, participant_short_id(i.participant_id)) for i in interviews]


def study_interview(study: Study, pk: int) -> Interview | None:
    interviews = Interview.objects.select_related("participant", "question")
    return interviews.filter(question__study=study, pk=pk).first()


def transcript_entries(interview: Interview) -> list[TranscriptEntry]:
    """What was said, in order, each assistant message with the cards it proposed."""
    messages = interview.messages.filter(role__in=SPOKEN).order_by("id")
    return [
        TranscriptEntry(message, [proposed_card(call) for call in message.tool_calls or []])
        for message in messages
    ]


def proposed_card(call: dict) -> ProposedCard:
    function = call.get("function") if isinstance(call, dict) else None
    function = function if isinstance(function, dict) else {}
    tool, arguments = str(function.get("name", "")), function.get("arguments", "")
    try:
        data = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return ProposedCard(tool=tool, raw=str(arguments))
    policies = data.get("policies")
    return ProposedCard(
        tool=tool,
        title=str(data.get("title", "")),
        description=str(data.get("description", "")),
        policies=tuple(map(str, policies)) if isinstance(policies, list) else (),
        context=str(data.get("context", "")),
    )


def interview_llm_calls(interview: Interview) -> QuerySet[LLMCall]:
    return interview.llm_calls.order_by("created_at", "id")


# --- canonical values ---


@dataclass(frozen=True)
class ValueRow:
    value: CanonicalValue
    contexts: list[str]


@dataclass(frozen=True)
class LinkRow:
    link: CardLink
    participant: str


def values_for_list(study: Study, *, search: str = "") -> QuerySet[CanonicalValue]:
    """The study's live values by title, with how many cards each holds."""
    values = live_values(study).annotate(card_count=Count("card_links")).order_by("title", "id")
    return values.filter(title__icontains=search) if search else values


def value_rows(values: Iterable[CanonicalValue]) -> list[ValueRow]:
    """Each value with the contexts its cards were written in (one query for all)."""
    values = list(values)
    rows = (
        CardLink.objects.filter(value__in=values, card__context__isnull=False)
        .values_list("value_id", "card__context__name")
        .distinct()
        .order_by("card__context__name")
    )
    contexts = defaultdict(list)
    for value_id, name in rows:
        contexts[value_id].append(name)
    return [ValueRow(value, contexts[value.pk]) for value in values]


def study_value(study: Study, pk: int) -> CanonicalValue | None:
    values = CanonicalValue.objects.select_related("study", "merged_into")
    return values.filter(study=study, pk=pk).first()


def value_links(value: CanonicalValue) -> list[LinkRow]:
    links = value.card_links.select_related("card__context").order_by("card_id")
    return [LinkRow(link, participant_short_id(link.card.participant_id)) for link in links]


def value_hypotheses(value: CanonicalValue) -> QuerySet[UpgradeHypothesis]:
    """Upgrades from and to the value, with their vote counts."""
    return (
        UpgradeHypothesis.objects.filter(Q(from_value=value) | Q(to_value=value))
        .select_related("from_value", "to_value", "context")
        .annotate(vote_count=Count("votes"))
        .order_by("context__name", "id")
    )


def merged_into_value(value: CanonicalValue) -> QuerySet[CanonicalValue]:
    return value.merged_values.order_by("title", "id")


def merge_targets(value: CanonicalValue) -> QuerySet[CanonicalValue]:
    """The values `value` may be merged into: the study's other live values."""
    return live_values(value.study).exclude(pk=value.pk).order_by("title", "id")


# --- graph view ---

SUPPORTERS_SHOWN = 200


def value_details(study: Study, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Title, description, policies and confirmed-card count of each value, in one query."""
    confirmed = Q(card_links__card__status=ValuesCard.Status.CONFIRMED)
    rows = (
        CanonicalValue.objects.filter(study=study, pk__in=ids)
        .annotate(cards=Count("card_links", filter=confirmed))
        .values("id", "title", "description", "policies", "cards")
    )
    return {row["id"]: row for row in rows}


def value_panel(value: CanonicalValue, context_id: int | None) -> dict[str, Any]:
    """What the side panel shows for a node: the card, who holds it, how voters judged it."""
    return {
        "id": value.pk,
        "title": value.title,
        "description": value.description,
        "policies": list(value.policies or []),
        "supporters": value_supporters(value),
        "votes_as_wiser": votes_as_target(value, context_id),
    }


def value_supporters(value: CanonicalValue) -> dict[str, Any]:
    """The confirmed cards merged into ``value``, each with a short pseudonym of its author.

    The pseudonym is a keyed hash of the participant's row id: stable across pages, and it
    reveals neither the participant's token nor their Prolific id.
    """
    rows = list(
        CardLink.objects.filter(value=value, card__status=ValuesCard.Status.CONFIRMED)
        .order_by("card_id")
        .values_list("card__title", "card__participant_id", "card__context__name")
    )
    authors = {participant for _, participant, _ in rows if participant is not None}
    cards = [
        {
            "title": title,
            "participant": participant_short_id(participant) or None,
            "context": context or "",
        }
        for title, participant, context in rows[:SUPPORTERS_SHOWN]
    ]
    return {"cards": cards, "card_count": len(rows), "participants": len(authors)}


def votes_as_target(value: CanonicalValue, context_id: int | None) -> dict[str, Any]:
    """How voters answered hypotheses whose wiser value is ``value`` (in one context, if given)."""
    votes = WisdomVote.objects.filter(hypothesis__to_value=value)
    if context_id is not None:
        votes = votes.filter(hypothesis__context_id=context_id)
    counts = dict(votes.order_by().values_list("answer").annotate(n=Count("id")))
    answers = {answer: counts.get(answer, 0) for answer in WisdomVote.Answer.values}
    return {"context": context_id, **answers, "total": sum(answers.values())}


# --- contexts ---


@dataclass(frozen=True)
class QuestionContexts:
    question: Question
    contexts: list[Context]  # live ones, each with `cards` and `hypotheses` counts


def study_contexts(study: Study) -> list[QuestionContexts]:
    """Each question with its live contexts (canonical and pending), in two queries."""
    contexts = (
        Context.objects.filter(study=study, merged_into__isnull=True)
        .annotate(
            card_count=Count("cards", distinct=True),
            hypothesis_count=Count(
                "hypotheses", filter=Q(hypotheses__is_active=True), distinct=True
            ),
        )
        .prefetch_related("questions", "merged_contexts")
        .order_by("pending", "name")
    )
    by_question = defaultdict(list)
    for context in contexts:
        for question in context.questions.all():
            by_question[question.pk].append(context)
    return [QuestionContexts(q, by_question[q.pk]) for q in study.questions.order_by("order", "id")]
