"""Reads for pages, the interview consumer and (later) the dashboard."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Q, Subquery

from moralgraph.core import GLOBAL_SECTION, ValuePosition, section_key, value_position
from moralgraph.models import (
    SHOWN_TO_OTHERS,
    CanonicalValue,
    CardLink,
    GraphBuild,
    UpgradeHypothesis,
)
from moralgraph.selectors import graph_build_sections, latest_graph_build

from . import completion
from .dialogue import Turn
from .models import (
    Context,
    Impression,
    Interview,
    LLMEndpoint,
    Message,
    Participant,
    Question,
    ValuesCard,
    WisdomVote,
)
from .pairing import Candidate


def interview_transcript(interview: Interview) -> list[Turn]:
    """What the model sees: stored messages in order, tool traffic included.

    A reply cut off mid-stream is left out, so a retry asks the model for the whole answer.
    """
    rows = (
        interview.messages.filter(is_complete=True)
        .order_by("id")
        .values_list("role", "content", "tool_calls", "tool_call_id")
    )
    return [
        Turn(role=role, content=content, tool_calls=tuple(calls or ()), tool_call_id=call_id)
        for role, content, calls, call_id in rows
    ]


def interview_history_messages(interview: Interview) -> list[dict]:
    """What the participant sees: their messages and the interviewer's words, in order."""
    rows = (
        interview.messages.filter(role__in=[Message.Role.USER, Message.Role.ASSISTANT])
        .exclude(content="")
        .order_by("id")
        .values("id", "role", "content", "is_complete")
    )
    return [
        {"id": r["id"], "role": r["role"], "content": r["content"], "complete": r["is_complete"]}
        for r in rows
    ]


def interview_card(interview: Interview) -> ValuesCard | None:
    return ValuesCard.objects.select_related("context").filter(interview=interview).first()


def card_as_dict(card: ValuesCard) -> dict:
    return {"id": card.pk, "status": card.status, **card.snapshot()}


def question_context_names(question: Question) -> list[str]:
    """The question's canonical contexts (not merged away, not awaiting a match), by name."""
    rows = question.contexts.filter(merged_into__isnull=True, pending=False)
    return list(rows.order_by("name").values_list("name", flat=True))


def question_for_new_interview(participant: Participant) -> Question | None:
    """The study's question with the fewest interviews so far (ties: lowest order)."""
    return (
        Question.objects.filter(study_id=participant.study_id)
        .annotate(n=Count("interviews"))
        .order_by("n", "order", "id")
        .first()
    )


def participant_open_interview(participant: Participant) -> Interview | None:
    return (
        participant.interviews.exclude(status=Interview.Status.COMPLETED)
        .select_related("question")
        .order_by("id")
        .first()
    )


def participant_confirmed_cards(participant: Participant) -> list[ValuesCard]:
    return list(
        participant.cards.filter(status=ValuesCard.Status.CONFIRMED).select_related("context")
    )


def participant_completion_missing(participant: Participant) -> list[str]:
    """What the participant still has to do for the study to count them as done (empty: done)."""
    study = participant.study
    cards = [_card_work(card) for card in participant_confirmed_cards(participant)]
    drawn = participant.impressions.filter(hypothesis__isnull=False).count()
    needed = completion.votes_needed(
        min_votes=study.completion_min_votes,
        in_reach=participant_votes_in_reach(participant),
        drawn=drawn,
    )
    return completion.completion_missing(
        cards=cards,
        min_messages=study.completion_min_messages,
        votes=participant.votes.count(),
        needed=needed,
    )


def _card_work(card: ValuesCard) -> completion.CardWork:
    interview = card.interview
    messages = interview.messages.filter(role=Message.Role.USER) if interview else None
    return completion.CardWork(
        has_substance=not completion.card_substance_problems(
            title=card.title, description=card.description, policies=list(card.policies)
        ),
        participant_messages=messages.count() if messages is not None else 0,
        guided=card.source == ValuesCard.Source.GUIDED,
        interviewer_failed=bool(interview and interview.llm_calls.exclude(error="").exists()),
    )


# --- Wisdom votes ---

WISER, NOT_WISER = WisdomVote.Answer.WISER, WisdomVote.Answer.NOT_WISER
LESS_WISE, UNSURE = WisdomVote.Answer.LESS_WISE, WisdomVote.Answer.UNSURE


def moderation_passed(prefix: str = "") -> Q:
    """A hypothesis whose story and both values passed moderation: only those reach voters."""
    return Q(
        **{
            f"{prefix}moderation__in": SHOWN_TO_OTHERS,
            f"{prefix}from_value__moderation__in": SHOWN_TO_OTHERS,
            f"{prefix}to_value__moderation__in": SHOWN_TO_OTHERS,
        }
    )


def hypothesis_candidates(study_id: int) -> list[Candidate]:
    """The study's active hypotheses between live values, with their votes so far: one query."""

    def votes(answer: str) -> Count:
        return Count("votes", filter=Q(votes__answer=answer))

    rows = (
        UpgradeHypothesis.objects.filter(
            study_id=study_id,
            is_active=True,
            from_value__merged_into__isnull=True,
            to_value__merged_into__isnull=True,
        )
        .filter(moderation_passed())
        .annotate(
            n=Count("votes"),
            wiser=votes(WISER),
            not_wiser=votes(NOT_WISER),
            less_wise=votes(LESS_WISE),
            unsure=votes(UNSURE),
        )
        .order_by("id")
        .values_list(
            "id",
            "context_id",
            "from_value_id",
            "to_value_id",
            "n",
            "wiser",
            "not_wiser",
            "less_wise",
            "unsure",
        )
    )
    return [Candidate(*row) for row in rows]


def participant_own_value_ids(participant: Participant) -> set[int]:
    """The canonical values the participant's cards were merged into (and where those went)."""
    rows = CardLink.objects.filter(card__participant=participant).values_list(
        "value_id", "value__merged_into_id"
    )
    return {value_id for pair in rows for value_id in pair if value_id}


def participant_context_ids(participant: Participant) -> set[int]:
    """Contexts of the participant's cards and of the questions they were interviewed on."""
    rows = Context.objects.filter(
        Q(cards__participant=participant) | Q(questions__interviews__participant=participant)
    ).values_list("id", flat=True)
    return set(rows)


def participant_seen_hypothesis_ids(participant: Participant) -> set[int]:
    shown = participant.impressions.filter(hypothesis__isnull=False).values_list("hypothesis_id")
    voted = WisdomVote.objects.filter(participant=participant).values_list("hypothesis_id")
    return {pk for (pk,) in shown.order_by().union(voted.order_by())}


def participant_draw(participant: Participant) -> list[Impression]:
    """The participant's latest draw of active hypotheses in the order shown, each impression
    with `answered` set, and the hypothesis, its values and its context loaded: one query."""
    latest = (
        Impression.objects.filter(participant=participant, hypothesis__isnull=False)
        .exclude(draw_id="")
        .order_by("-id")
        .values("draw_id")[:1]
    )
    voted = WisdomVote.objects.filter(participant=participant, hypothesis=OuterRef("hypothesis"))
    return list(
        Impression.objects.filter(
            participant=participant, draw_id=Subquery(latest), hypothesis__is_active=True
        )
        .filter(moderation_passed("hypothesis__"))
        .select_related("hypothesis__context", "hypothesis__from_value", "hypothesis__to_value")
        .annotate(answered=Exists(voted))
        .order_by("position", "id")
    )


def participant_votes_in_reach(participant: Participant) -> bool:
    """Whether voting is worth a visit: a draw exists, or the study has hypotheses to draw."""
    drawn = participant.impressions.filter(hypothesis__isnull=False)
    active = UpgradeHypothesis.objects.filter(study_id=participant.study_id, is_active=True)
    active = active.filter(moderation_passed())
    return drawn.exists() or active.exists()


@dataclass(frozen=True)
class Comparison:
    """How other participants judged one upgrade touching the participant's value."""

    context: str
    other: str
    yours_is_target: bool
    votes: int
    yours_wiser: int
    other_wiser: int

    @property
    def yours_mostly_wiser(self) -> bool:
        return self.yours_wiser * 2 > self.votes

    @property
    def other_mostly_wiser(self) -> bool:
        return self.other_wiser * 2 > self.votes


@dataclass(frozen=True)
class Placement:
    """Where one confirmed card went: its canonical value, who shares it, how it fares.

    ``graph_built_at`` is when the latest moral graph was built (None: not yet), and
    ``position`` where the value sits in it (None: not ranked there).
    """

    card: ValuesCard
    value: CanonicalValue | None
    people: int = 0
    comparisons: tuple[Comparison, ...] = ()
    position: ValuePosition | None = None
    graph_built_at: datetime | None = None

    @property
    def votes(self) -> int:
        return sum(c.votes for c in self.comparisons)

    @property
    def wiser_than(self) -> int:
        return sum(c.yours_mostly_wiser for c in self.comparisons)

    @property
    def less_wise_than(self) -> int:
        return sum(c.other_mostly_wiser for c in self.comparisons)


RESULTS_MAX_COMPARISONS = 12


def participant_placements(participant: Participant) -> list[Placement]:
    """ "Where did my input go?": each confirmed card, the canonical value it was merged into (if
    deduplication reached it yet), how many people share that value, raw vote counts by other
    participants on the upgrades into and out of it, and its place in the latest moral graph.
    Five queries: the graph's build and then only the sections the cards are placed in."""
    cards = list(
        participant.cards.filter(status=ValuesCard.Status.CONFIRMED).select_related(
            "context", "canonical_link__value__merged_into"
        )
    )
    values = {card.pk: _linked_value(card) for card in cards}
    value_ids = {value.pk for value in values.values() if value}
    people = _value_people(value_ids)
    comparisons = _value_comparisons(value_ids, participant)
    build = latest_graph_build(participant.study) if value_ids else None
    sections = _placement_sections(build, [card for card in cards if values[card.pk]])
    return [
        Placement(
            card=card,
            value=value,
            people=people.get(value.pk, 0) if value else 0,
            comparisons=tuple(comparisons.get(value.pk, ())) if value else (),
            position=_graph_position(sections, card, value),
            graph_built_at=build.built_at if build else None,
        )
        for card in cards
        for value in [values[card.pk]]
    ]


def _placement_sections(build: GraphBuild | None, cards: list[ValuesCard]) -> dict[str, dict]:
    """The sections of ``build`` that place ``cards``: each card's context when it is ranked,
    else the global graph (read only then: at a million votes it is the biggest section)."""
    if build is None or not cards:
        return {}
    index = build.summary.get("contexts") or {}
    keys = {
        section_key(card.context_id)
        if (index.get(str(card.context_id)) or {}).get("ranked")
        else GLOBAL_SECTION
        for card in cards
    }
    return graph_build_sections(build, keys)


def _graph_position(
    sections: dict[str, dict], card: ValuesCard, value: CanonicalValue | None
) -> ValuePosition | None:
    if value is None:
        return None
    context = sections.get(section_key(card.context_id))
    return value_position(context, sections.get(GLOBAL_SECTION), value.pk)


def _linked_value(card: ValuesCard) -> CanonicalValue | None:
    try:
        value = card.canonical_link.value
    except CardLink.DoesNotExist:
        return None
    return value.merged_into or value


def _value_people(value_ids: set[int]) -> dict[int, int]:
    if not value_ids:
        return {}
    rows = (
        CardLink.objects.filter(Q(value_id__in=value_ids) | Q(value__merged_into_id__in=value_ids))
        .values_list("value_id", "value__merged_into_id")
        .annotate(n=Count("card__participant", distinct=True))
        .order_by()
    )
    people: dict[int, int] = {}
    for value_id, merged_into_id, n in rows:
        key = merged_into_id or value_id
        people[key] = people.get(key, 0) + n
    return people


def _value_comparisons(
    value_ids: set[int], participant: Participant
) -> dict[int, list[Comparison]]:
    if not value_ids:
        return {}
    others = ~Q(votes__participant=participant)

    def votes(*answers: str) -> Count:
        return Count("votes", filter=others & Q(votes__answer__in=answers))

    hypotheses = (
        UpgradeHypothesis.objects.filter(
            Q(from_value_id__in=value_ids) | Q(to_value_id__in=value_ids), is_active=True
        )
        .select_related("context", "from_value", "to_value")
        .annotate(n=votes(WISER, NOT_WISER, LESS_WISE, UNSURE))
        .annotate(wiser=votes(WISER), less_wise=votes(LESS_WISE))
        .filter(n__gt=0)
        .order_by("-n", "id")[:RESULTS_MAX_COMPARISONS]
    )
    found: dict[int, list[Comparison]] = {}
    for h in hypotheses:
        mine_is_target = h.to_value_id in value_ids
        mine, other = (h.to_value, h.from_value) if mine_is_target else (h.from_value, h.to_value)
        wiser, less = (h.wiser, h.less_wise) if mine_is_target else (h.less_wise, h.wiser)
        found.setdefault(mine.pk, []).append(
            Comparison(h.context.name, other.title, mine_is_target, h.n, wiser, less)
        )
    return found


def endpoint_capabilities(*, base_url: str, model: str) -> LLMEndpoint | None:
    """What was found to work on this endpoint + model, if it was ever checked."""
    return LLMEndpoint.objects.filter(base_url=base_url, model=model).first()
