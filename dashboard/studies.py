"""Organizer writes to studies: create, update, open and close, and their questions.

A question that already has interviews or cards is never deleted: those rows point at it, and
deleting it would either fail half-way or take participants' words with it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from django.db import IntegrityError, transaction
from django.db.models import Max

from elicitation.llm.client import is_configured
from elicitation.models import Question, Study

from .jobs import job_start
from .models import Job


class StudyChangeRefused(Exception):
    """A change the organizer asked for that cannot be made; the text says why, for display."""


class StudyFields(TypedDict, total=False):
    """The study settings an organizer edits; the slug is set once, at creation."""

    title: str
    description: str
    consent_text: str
    llm_model: str
    ask_demographics: bool
    completion_url: str
    completion_code: str
    token_budget: int | None
    admission: str
    prolific_study_id: str
    completion_min_messages: int
    completion_min_votes: int
    refresh_every_cards: int | None
    refresh_every_minutes: int | None
    card_button_after: int
    max_participant_messages: int
    graph_acquiescence: str


@dataclass(frozen=True)
class QuestionDraft:
    title: str
    text: str
    order: int | None = None  # None: after the study's last question


@dataclass(frozen=True)
class QuestionChanges:
    """What the settings page asks for, applied in one transaction: deletions, edits, additions."""

    added: Sequence[QuestionDraft] = ()
    edited: Sequence[tuple[Question, QuestionDraft]] = ()
    deleted: Sequence[Question] = ()


#: A new study updates itself after every 3 confirmed cards, or 10 minutes, unless set otherwise.
DEFAULT_CADENCE: StudyFields = {"refresh_every_cards": 3, "refresh_every_minutes": 10}

STATE_CHANGES: dict[str, set[str]] = {
    Study.State.DRAFT: {Study.State.OPEN},
    Study.State.OPEN: {Study.State.CLOSED},
    Study.State.CLOSED: {Study.State.OPEN},
}


def study_create(
    *, slug: str, fields: StudyFields, questions: Sequence[QuestionDraft] = ()
) -> Study:
    """A new draft study with its questions; a slug already in use is refused.

    Unless `fields` say otherwise it updates itself on DEFAULT_CADENCE, and with a model
    configured a job then proposes each question's contexts.
    """
    if Study.objects.filter(slug=slug).exists():
        raise StudyChangeRefused(slug_taken_message(slug))
    try:
        with transaction.atomic():
            study = Study.objects.create(
                slug=slug, state=Study.State.DRAFT, **(DEFAULT_CADENCE | fields)
            )
            for draft in questions:
                question_add(study=study, draft=draft)
    except IntegrityError as error:  # another organizer took the slug a moment ago
        raise StudyChangeRefused(slug_taken_message(slug)) from error
    if questions and is_configured():
        job_start(study=study, kind=Job.Kind.CONTEXTS)
    return study


def slug_taken_message(slug: str) -> str:
    return f"Another study already uses the address “{slug}”; choose another."


def study_update(
    *, study: Study, fields: StudyFields, questions: QuestionChanges | None = None
) -> Study:
    """Save the study's settings and question changes together, or nothing at all.

    Questions are reordered by editing their ``order``.
    """
    with transaction.atomic():
        for name, value in fields.items():
            setattr(study, name, value)
        study.save(update_fields=list(fields))
        if questions is not None:
            questions_change(study=study, changes=questions)
    return study


def study_state_change(*, study: Study, state: str) -> Study:
    """Open, close or reopen a study; a study without questions cannot open."""
    if state not in STATE_CHANGES.get(study.state, set()):
        current = study.get_state_display().lower()
        raise StudyChangeRefused(f"The study is {current}; it cannot move to “{state}”.")
    if state == Study.State.OPEN and not study.questions.exists():
        raise StudyChangeRefused("Add at least one question before opening the study.")
    study.state = state
    study.save(update_fields=["state"])
    return study


def questions_change(*, study: Study, changes: QuestionChanges) -> None:
    with transaction.atomic():
        for question in changes.deleted:
            question_delete(question=question)
        for question, draft in changes.edited:
            question_edit(question=question, draft=draft)
        for draft in changes.added:
            question_add(study=study, draft=draft)


def question_add(*, study: Study, draft: QuestionDraft) -> Question:
    order = _next_order(study) if draft.order is None else draft.order
    return Question.objects.create(study=study, title=draft.title, text=draft.text, order=order)


def question_edit(*, question: Question, draft: QuestionDraft) -> Question:
    question.title, question.text = draft.title, draft.text
    if draft.order is not None:
        question.order = draft.order
    question.save(update_fields=["title", "text", "order"])
    return question


def question_delete(*, question: Question) -> None:
    """Delete a question nobody has answered yet."""
    interviews = question.interviews.count()
    if interviews or question.cards.exists():
        answers = _plural(interviews, "interview") if interviews else "cards"
        raise StudyChangeRefused(
            f"The question “{question}” already has {answers} and cannot be deleted; "
            "edit its wording instead."
        )
    question.delete()


def _next_order(study: Study) -> int:
    last = study.questions.aggregate(last=Max("order"))["last"]
    return 0 if last is None else last + 1


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
