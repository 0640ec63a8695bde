"""Writes. Every participant message, card and edit is stored here before it is acknowledged."""

import random
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from moralgraph.contexts import normalise as normalise_context

from . import pairing, selectors
from .access import participant_write_check, study_open_check
from .admission import recruitment_fields
from .models import (
    Context,
    Impression,
    Interview,
    LLMEndpoint,
    Message,
    Participant,
    Question,
    Study,
    ValuesCard,
    WisdomVote,
    new_participant_token,
)

OPENING_TEMPLATE = (
    "Hi! Thanks for taking part. Imagine someone sends this message to a chatbot like ChatGPT:\n\n"
    "\u201c{question}\u201d\n\n"
    "What do you think the chatbot should pay attention to when it answers? "
    "There are no wrong answers; a personal story or example helps a lot."
)


def participant_start(
    *, study: Study, recruitment: dict[str, str] | None = None, client_hash: str = ""
) -> Participant:
    """A new participant, for trusted callers (simulation, seeding, tests). Browsers join
    through `admission.participant_admit`, which applies the study's admission rules."""
    fields = recruitment_fields(recruitment or {})
    return Participant.objects.create(study=study, client_hash=client_hash, **fields)


def participant_consent(*, participant: Participant, agreed: bool) -> Participant:
    """Agree (in an open study), or decline; declining after agreeing withdraws."""
    if not agreed and participant.consented_at:
        return participant_withdraw(participant=participant)
    now = timezone.now()
    if agreed:
        study_open_check(participant.study, drafts=True)
        if participant.withdrawn_at:
            participant_write_check(participant)  # refuses: withdrawn for good
        participant.consented_at = participant.consented_at or now
        participant.declined_at = None
    else:
        participant.declined_at = now
    participant.save(update_fields=["consented_at", "declined_at"])
    return participant


def participant_withdraw(*, participant: Participant) -> Participant:
    """Delete what the participant gave us and end their session for good.

    Interviews (with their messages and cards), cards, votes, impressions, demographics,
    feedback and recruitment ids go; the row stays, empty, so withdrawals can be counted and
    later writes refused. A new token makes every cookie that named them worthless.
    """
    with transaction.atomic():
        participant.interviews.all().delete()
        participant.cards.all().delete()
        participant.votes.all().delete()
        participant.impressions.all().delete()
        now = timezone.now()
        participant.demographics, participant.feedback = {}, {}
        participant.prolific_pid = participant.prolific_study_id = ""
        participant.prolific_session_id = participant.external_id = ""
        participant.consented_at, participant.completed_at = None, None
        participant.declined_at = participant.withdrawn_at = now
        participant.token = new_participant_token()
        participant.save()
    return participant


def participant_demographics_save(*, participant: Participant, answers: dict) -> Participant:
    participant_write_check(participant)
    participant.demographics = {k: v for k, v in answers.items() if v not in ("", None)}
    participant.save(update_fields=["demographics"])
    return participant


def participant_complete(*, participant: Participant) -> Participant:
    """Mark the work done; refused (CompletionRefused) while the study's rules are unmet."""
    participant_write_check(participant)
    missing = selectors.participant_completion_missing(participant)
    if missing:
        raise CompletionRefused(missing)
    if participant.completed_at is None:
        participant.completed_at = timezone.now()
        participant.save(update_fields=["completed_at"])
    return participant


class CompletionRefused(Exception):
    """The study's rules for a completion are not met yet; `missing` says what, for display."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(" ".join(missing))
        self.missing = missing


def interview_start(*, participant: Participant, question: Question) -> Interview:
    """The participant's interview on `question`, opened with the interviewer's greeting."""
    participant_write_check(participant)
    with transaction.atomic():
        interview, created = Interview.objects.get_or_create(
            participant=participant,
            question=question,
            defaults={"model": participant.study.model_name},
        )
        if created:
            Message.objects.create(
                interview=interview,
                role=Message.Role.ASSISTANT,
                content=OPENING_TEMPLATE.format(question=question.text),
            )
    return interview


def interview_message_add(
    *, interview: Interview, client_id: str, content: str
) -> tuple[Message, bool]:
    """Store a participant message once per client_id; a replay returns the stored one."""
    participant_write_check(interview.participant)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                interview=interview, role=Message.Role.USER, client_id=client_id, content=content
            )
    except IntegrityError:
        return Message.objects.get(interview=interview, client_id=client_id), False
    return message, True


def interview_reply_save(
    *,
    interview: Interview,
    content: str,
    complete: bool = True,
    llm_call_id: int | None = None,
    tokens_in: int = 0,
    tokens_out: int = 0,
    tool_calls: list[dict] | None = None,
) -> Message:
    return Message.objects.create(
        interview=interview,
        role=Message.Role.ASSISTANT,
        content=content,
        is_complete=complete,
        llm_call_id=llm_call_id,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        tool_calls=tool_calls or [],
    )


def interview_tool_result_save(*, interview: Interview, tool_call_id: str, content: str) -> Message:
    return Message.objects.create(
        interview=interview, role=Message.Role.TOOL, tool_call_id=tool_call_id, content=content
    )


def interview_prompt_record(*, interview: Interview, model: str, prompt_version: str) -> None:
    """Note which model and prompt version the interview runs on (written only on change)."""
    if (interview.model, interview.prompt_version) == (model, prompt_version):
        return
    interview.model, interview.prompt_version = model, prompt_version
    Interview.objects.filter(pk=interview.pk).update(model=model, prompt_version=prompt_version)


def interview_failure_record(*, interview: Interview) -> int:
    Interview.objects.filter(pk=interview.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, updated_at=timezone.now()
    )
    interview.refresh_from_db(fields=["consecutive_failures"])
    return interview.consecutive_failures


def interview_failures_reset(*, interview: Interview) -> None:
    if interview.consecutive_failures:
        interview.consecutive_failures = 0
        interview.save(update_fields=["consecutive_failures", "updated_at"])


def interview_fall_back(*, interview: Interview) -> Interview:
    """Switch to the guided form; the transcript stays, and the form still yields a card."""
    if interview.status in (Interview.Status.ACTIVE, Interview.Status.CARD_PROPOSED):
        interview.status = Interview.Status.GUIDED
        interview.save(update_fields=["status", "updated_at"])
    return interview


def context_get_or_create(*, study: Study, name: str, question: Question | None = None) -> Context:
    """The study's context named `name` (any case or spacing), or the one it was merged into;
    else a new pending context, which the study's next refresh matches against the question's
    contexts (moralgraph.context_services)."""
    name = normalise_context(name)[:300]
    context = Context.objects.filter(study=study, name__iexact=name).order_by("id").first()
    if context is None:
        context, _ = Context.objects.get_or_create(
            study=study, name=name, defaults={"source": Context.Source.INTERVIEW, "pending": True}
        )
    context = context.live()
    if question is not None:
        context.questions.add(question)
    return context


def card_draft_save(
    *,
    interview: Interview,
    title: str,
    description: str,
    policies: list[str],
    context: str,
    source: str = ValuesCard.Source.INTERVIEW,
    changed_by: str = "interviewer",
) -> ValuesCard:
    """Create the interview's draft card, or revise it keeping the earlier version in history."""
    participant_write_check(interview.participant)
    study = interview.participant.study
    with transaction.atomic():
        context_obj = context_get_or_create(study=study, name=context, question=interview.question)
        card = ValuesCard.objects.select_for_update().filter(interview=interview).first()
        if card is None:
            card = ValuesCard(
                interview=interview,
                participant=interview.participant,
                study=study,
                question=interview.question,
                source=source,
            )
        else:
            card.history = [*card.history, _history_entry(card, changed_by)]
            card.status = ValuesCard.Status.DRAFT
        card.title, card.description = title, description
        card.policies, card.context = list(policies), context_obj
        card.save()
        if interview.status == Interview.Status.ACTIVE:
            interview.status = Interview.Status.CARD_PROPOSED
            interview.save(update_fields=["status", "updated_at"])
    return card


def card_edit(
    *, card: ValuesCard, title: str, description: str, policies: list[str], context: str
) -> ValuesCard:
    """The participant's edits; a change keeps the previous version in the card's history."""
    _card_write_check(card)
    new = {"title": title, "description": description, "policies": policies, "context": context}
    if new == card.snapshot():
        return card
    with transaction.atomic():
        card.history = [*card.history, _history_entry(card, "participant")]
        card.title, card.description, card.policies = title, description, list(policies)
        card.context = context_get_or_create(study=card.study, name=context, question=card.question)
        card.save()
    return card


def card_confirm(*, card: ValuesCard) -> ValuesCard:
    _card_write_check(card)
    with transaction.atomic():
        if card.status != ValuesCard.Status.CONFIRMED:
            card.status = ValuesCard.Status.CONFIRMED
            card.confirmed_at = timezone.now()
            card.save(update_fields=["status", "confirmed_at"])
            # robust: the card is confirmed whatever happens to its deduplication.
            transaction.on_commit(lambda: _after_confirm(card.pk, card.study_id), robust=True)
        if card.interview_id:
            Interview.objects.filter(pk=card.interview_id).update(
                status=Interview.Status.COMPLETED, updated_at=timezone.now()
            )
    return card


def _card_write_check(card: ValuesCard) -> None:
    if card.participant_id:
        participant_write_check(card.participant)


def _after_confirm(card_id: int, study_id: int) -> None:
    """Deduplicate the card, then let the study's cadence start its update if now due."""
    try:
        _dedupe_later(card_id)
    finally:
        _refresh_check_later(study_id)


def _dedupe_later(card_id: int) -> None:
    from moralgraph.tasks import dedupe_card  # moralgraph imports this app: import on use

    if settings.MGE_DEDUPE_ON_CONFIRM:
        dedupe_card.delay(card_id)


def _refresh_check_later(study_id: int) -> None:
    """Let the study's cadence start its update if this card made one due."""
    from dashboard.tasks import study_refresh_check  # the dashboard imports this app

    study_refresh_check.delay(study_id)


def _history_entry(card: ValuesCard, changed_by: str) -> dict:
    return {**card.snapshot(), "changed_by": changed_by, "replaced_at": timezone.now().isoformat()}


# --- Wisdom votes and feedback ---


class VoteRefused(Exception):
    """A vote that cannot be taken; retrying the same request cannot help. The text is safe to
    show the participant."""


def votes_draw(*, participant: Participant, rng: random.Random | None = None) -> list[Impression]:
    """The hypotheses for the participant to judge, logged as impressions in the order shown.

    Reload-safe: while the latest draw has an unanswered hypothesis, that draw comes back and
    nothing new is logged. Otherwise `pairing.choose` picks a fresh draw (empty when nothing is
    left) from the study's vote counts, read in one query.
    """
    participant_write_check(participant)
    with transaction.atomic():
        # Two tabs drawing at once: the second waits here, then finds the first one's draw.
        list(Participant.objects.select_for_update().filter(pk=participant.pk).values("pk"))
        current = selectors.participant_draw(participant)
        if any(not impression.answered for impression in current):
            return current
        chosen = pairing.choose(
            selectors.hypothesis_candidates(participant.study_id),
            own_value_ids=selectors.participant_own_value_ids(participant),
            seen_ids=selectors.participant_seen_hypothesis_ids(participant),
            context_ids=selectors.participant_context_ids(participant),
            count=pairing.draw_size(settings.MGE_VOTES_PER_DRAW),
            rng=rng or random.SystemRandom(),
        )
        draw_id = uuid.uuid4().hex
        return Impression.objects.bulk_create(
            Impression(participant=participant, hypothesis_id=c.id, draw_id=draw_id, position=n)
            for n, c in enumerate(chosen)
        )


def vote_record(
    *,
    participant: Participant,
    hypothesis_id: int,
    answer: str,
    reason: str = "",
    client_id: str = "",
) -> tuple[WisdomVote, bool]:
    """Store the participant's vote on a hypothesis they were shown, once.

    The first answer stands: a double submit, a replay or a second tab gets the stored vote
    back with created=False. Raises VoteRefused for a hypothesis never shown to them.
    """
    participant_write_check(participant)
    if answer not in WisdomVote.Answer.values:
        raise VoteRefused("Please choose one of the four answers.")
    if len(reason) > settings.MGE_MESSAGE_MAX_CHARS:
        raise VoteRefused(
            f"Please keep your reason under {settings.MGE_MESSAGE_MAX_CHARS} characters."
        )
    if not participant.impressions.filter(hypothesis_id=hypothesis_id).exists():
        raise VoteRefused("You can only answer the comparisons that were shown to you.")
    key = {"participant": participant, "hypothesis_id": hypothesis_id}
    existing = WisdomVote.objects.filter(**key).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            vote = WisdomVote.objects.create(
                **key, answer=answer, reason=reason.strip(), client_id=client_id[:64]
            )
    except IntegrityError:
        return WisdomVote.objects.get(**key), False
    return vote, True


def participant_feedback_save(*, participant: Participant, answers: dict) -> Participant:
    """The closing questions' answers; skipped ones are left out."""
    participant_write_check(participant)
    kept = {key: value for key, value in answers.items() if value not in ("", None)}
    participant.feedback = {**kept, "submitted_at": timezone.now().isoformat()}
    participant.save(update_fields=["feedback"])
    return participant


def endpoint_capabilities_save(
    *, base_url: str, model: str, found: dict[str, bool | None], notes: str = ""
) -> None:
    """Store what a check found; keys are LLMEndpoint's capability fields, None: unknown."""
    LLMEndpoint.objects.update_or_create(
        base_url=base_url,
        model=model,
        defaults={**found, "notes": notes, "checked_at": timezone.now()},
    )


def endpoint_capability_learn(*, base_url: str, model: str, name: str, works: bool) -> None:
    """Remember one capability seen in use (a rejected response format, say) without a check."""
    LLMEndpoint.objects.update_or_create(base_url=base_url, model=model, defaults={name: works})
