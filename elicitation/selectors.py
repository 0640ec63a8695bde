"""Reads for pages, the interview consumer and (later) the dashboard."""

from django.db.models import Count, Q

from .dialogue import Turn
from .models import Interview, Message, Participant, Question, Study, ValuesCard


def study_open_by_slug(slug: str) -> Study | None:
    return Study.objects.filter(slug=slug, state=Study.State.OPEN).first()


def interview_transcript(interview: Interview) -> list[Turn]:
    """What the model sees: stored messages in order, tool traffic included.

    A reply cut off mid-stream is left out, so a retry asks the model for the whole answer.
    """
    rows = interview.messages.filter(is_complete=True).order_by("id").values_list(
        "role", "content", "tool_calls", "tool_call_id"
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


def study_spent_tokens(study_id: int) -> int:
    from django.db.models import Sum

    totals = Study.objects.filter(pk=study_id).aggregate(
        t=Sum("llm_calls__tokens_in", default=0) + Sum("llm_calls__tokens_out", default=0)
    )
    return int(totals["t"] or 0)


def study_progress(study: Study) -> dict:
    return Participant.objects.filter(study=study).aggregate(
        participants=Count("id"),
        consented=Count("id", filter=Q(consented_at__isnull=False)),
        completed=Count("id", filter=Q(completed_at__isnull=False)),
    )
