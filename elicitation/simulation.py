"""Simulated participants for piloting a study: each one walks the real journey.

Consent, demographics, the interview, card confirmation (and so deduplication), wisdom votes,
feedback and completion go through the same services a browser reaches. In the interview a
persona model writes the participant's messages and `interviewer_turn` answers exactly as it
does behind the websocket. Every model call is recorded on the study, so a pilot shows what the
real study will cost. Participants run concurrently on one event loop, at most `concurrency` at a
time; a failure ends that participant only and is reported.
"""

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.test.utils import override_settings
from django.utils import timezone

from moralgraph.llm import ask_structured
from moralgraph.prompting import ValueText

from . import personas, selectors, services
from .asyncdb import db
from .interviewer import interviewer_turn
from .llm.client import CallTag, chat, is_configured
from .llm.errors import LLMError, LLMNotConfigured, LLMOutputInvalid
from .llm.prompts import Prompt
from .models import Impression, Interview, LLMCall, Participant, Study
from .personas import HypothesisText, Persona, VoteJudgement

logger = logging.getLogger(__name__)

COMPLETED, FALLBACK, NO_CARD, FAILED = "completed", "fallback", "no_card", "failed"
NONSENSE = "nonsense_card"  # the persona would not confirm the card it was shown
LIKERT_QUESTIONS = ("represented", "process_fair", "graph_fair")  # forms.FeedbackForm
INTERVIEW_PURPOSES = ("interview_turn", "card_articulation")
PERSONA_MAX_TOKENS = 200  # 1 to 4 sentences; a small model may otherwise ramble on


class SimulationError(Exception):
    """A simulated participant cannot go on; retrying the same run cannot help."""


@dataclass
class ParticipantResult:
    number: int
    external_id: str
    persona: str
    status: str = FAILED
    messages: int = 0
    card_id: int | None = None
    votes: int = 0
    detail: str = ""
    made_card: bool = False  # the card came from pressing "Make my card"

    def line(self) -> str:
        parts = [f"{self.messages} messages"]
        parts += [f"card {self.card_id}"] if self.card_id else []
        parts += [f"{self.votes} votes"] if self.votes else []
        parts += [self.detail] if self.detail else []
        return f"{self.external_id} ({self.persona}): {self.status}, {', '.join(parts)}"


@dataclass(frozen=True)
class Spend:
    """The study's LLM calls of one purpose during the run."""

    purpose: str
    calls: int
    failed: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    seconds: float = 0.0
    unpriced: int = 0  # calls of a model without a price

    def line(self) -> str:
        failed = f" ({self.failed} failed)" if self.failed else ""
        per_call = f", {self.seconds / self.calls:.1f} s per call" if self.calls else ""
        cost = f"${self.cost_usd:.4f}"
        if self.unpriced:
            cost = "price not set" if not self.cost_usd else f"{cost} + price not set"
        return (
            f"{self.purpose}: {self.calls} calls{failed}, tokens {self.tokens_in:,} in / "
            f"{self.tokens_out:,} out, {cost}{per_call}"
        )

    @classmethod
    def total(cls, spends: list["Spend"]) -> "Spend":
        return cls(
            "LLM calls",
            sum(s.calls for s in spends),
            sum(s.failed for s in spends),
            sum(s.tokens_in for s in spends),
            sum(s.tokens_out for s in spends),
            sum((s.cost_usd for s in spends), Decimal(0)),
            sum(s.seconds for s in spends),
            sum(s.unpriced for s in spends),
        )


@dataclass
class SimulationReport:
    study_slug: str
    run_id: str
    results: list[ParticipantResult]
    spend: list[Spend] = field(default_factory=list)
    wall_seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)

    @property
    def cards(self) -> int:
        return sum(result.card_id is not None for result in self.results)

    @property
    def votes(self) -> int:
        return sum(result.votes for result in self.results)

    def per_card(self) -> str:
        """Participant messages and interview tokens (persona and votes left out) per card."""
        confirmed = [r for r in self.results if r.card_id is not None]
        if not confirmed:
            return "Per confirmed card: no cards."
        interview = [s for s in self.spend if s.purpose in INTERVIEW_PURPOSES]
        tokens = sum(s.tokens_in + s.tokens_out for s in interview)
        turns = sum(r.messages for r in confirmed) / len(confirmed)
        made = sum(r.made_card for r in confirmed)
        return (
            f"Per confirmed card: {turns:.1f} participant messages, "
            f"{tokens / len(confirmed):,.0f} interviewer tokens; "
            f'{made} of {len(confirmed)} written after "Make my card".'
        )

    def summary(self) -> str:
        lines = [
            f"Simulated {len(self.results)} participants on study {self.study_slug!r} "
            f"(run {self.run_id}) in {self.wall_seconds:.1f} s.",
            f"Completed: {self.count(COMPLETED)} of {len(self.results)}. "
            f"Cards confirmed: {self.cards}. Votes: {self.votes}. "
            f"Fallbacks: {self.count(FALLBACK)}. No card: {self.count(NO_CARD)}. "
            f"Nonsense cards: {self.count(NONSENSE)}. Failed: {self.count(FAILED)}.",
            self.per_card(),
            Spend.total(self.spend).line(),
            *(f"  {spend.line()}" for spend in self.spend),
        ]
        unfinished = [result for result in self.results if result.status != COMPLETED]
        if unfinished:
            lines += ["Not completed:", *(f"  {result.line()}" for result in unfinished)]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Plan:
    number: int
    external_id: str
    persona: Persona
    rng: random.Random


def simulate(
    *,
    study: Study,
    participants: int,
    persona_list: list[Persona] | None = None,
    seed: int | None = None,
    max_turns: int = 8,
    concurrency: int = 4,
    dedupe: bool = True,
    on_result: Callable[[ParticipantResult], None] | None = None,
) -> SimulationReport:
    """Run `participants` simulated participants through `study` and report what happened.

    Personas (the built-in list unless given) are dealt in an order fixed by `seed`, as are
    each participant's draws and feedback. `max_turns` caps the participant's messages in the
    interview; `dedupe=False` confirms cards without queueing their deduplication.
    `on_result` is called with each participant's result as they finish, on a worker thread.
    """
    _check(study, participants=participants, max_turns=max_turns, concurrency=concurrency)
    rng = random.Random(seed)
    dealt = personas.assign(persona_list or personas.load_personas(), participants, rng)
    run_id = uuid.uuid4().hex[:8]
    plans = [
        _Plan(number, f"sim:{run_id}:{number}", persona, random.Random(rng.getrandbits(64)))
        for number, persona in enumerate(dealt, start=1)
    ]
    started_at, clock = timezone.now(), time.monotonic()
    # card_confirm reads the setting when it queues deduplication; the override is process-wide
    # and lasts for this run only.
    with nullcontext() if dedupe else override_settings(MGE_DEDUPE_ON_CONFIRM=False):
        results = asyncio.run(_run_all(study, plans, max_turns, concurrency, on_result))
    return SimulationReport(
        study_slug=study.slug,
        run_id=run_id,
        results=results,
        spend=study_spend(study, since=started_at),
        wall_seconds=time.monotonic() - clock,
    )


def _check(study: Study, *, participants: int, max_turns: int, concurrency: int) -> None:
    for name, number in [
        ("participants", participants),
        ("max_turns", max_turns),
        ("concurrency", concurrency),
    ]:
        if number < 1:
            raise ValueError(f"{name} must be at least 1, not {number}.")
    if not is_configured():
        raise LLMNotConfigured("Set LLM_BASE_URL and/or LLM_API_KEY (or OPENAI_API_KEY).")
    if not study.questions.exists():
        raise SimulationError(f"Study {study.slug!r} has no questions to interview about.")


def study_spend(study: Study, *, since: datetime) -> list[Spend]:
    rows = (
        LLMCall.objects.filter(study=study, created_at__gte=since)
        .values("purpose")
        .annotate(
            calls=Count("id"),
            failed=Count("id", filter=~Q(error="")),
            tokens_in=Sum("tokens_in"),
            tokens_out=Sum("tokens_out"),
            cost=Sum("cost_usd"),
            latency_ms=Sum("latency_ms"),
            unpriced=Count("id", filter=Q(cost_usd__isnull=True)),
        )
        .order_by("purpose")
    )
    return [
        Spend(
            row["purpose"],
            row["calls"],
            row["failed"],
            row["tokens_in"],
            row["tokens_out"],
            row["cost"] or Decimal(0),
            (row["latency_ms"] or 0) / 1000,
            row["unpriced"],
        )
        for row in rows
    ]


async def _run_all(
    study: Study,
    plans: list[_Plan],
    max_turns: int,
    concurrency: int,
    on_result: Callable[[ParticipantResult], None] | None,
) -> list[ParticipantResult]:
    # Enough threads that each running participant's blocking calls (ORM, persona model) have
    # one, with room for the interviewer turns' own ORM calls.
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(concurrency + 4, thread_name_prefix="simulate"))
    gate = asyncio.Semaphore(concurrency)

    async def one(plan: _Plan) -> ParticipantResult:
        async with gate:
            result = await _participant(study, plan, max_turns)
        if on_result is not None:
            await db(on_result)(result)  # off the event loop: the callback may use the ORM
        return result

    return list(await asyncio.gather(*(one(plan) for plan in plans)))


async def _participant(study: Study, plan: _Plan, max_turns: int) -> ParticipantResult:
    result = ParticipantResult(plan.number, plan.external_id, plan.persona.name)
    try:
        await _journey(study, plan, max_turns, result)
    except LLMError as error:
        result.status, result.detail = FAILED, f"{error.code}: {error}"
    except Exception as error:  # one participant's failure must not stop the others
        logger.exception("Simulated participant %s failed", plan.external_id)
        result.status, result.detail = FAILED, f"{type(error).__name__}: {error}"
    return result


async def _journey(study: Study, plan: _Plan, max_turns: int, result: ParticipantResult) -> None:
    """Enrol, interview, confirm the card, vote, give feedback, complete; `result` follows."""
    interview = await db(_enrol)(study=study, persona=plan.persona, external_id=plan.external_id)
    if not await _converse(interview, plan.persona, max_turns, result):
        return
    problems = await db(_card_problems)(interview=interview)
    if problems:
        result.status, result.detail = NONSENSE, "; ".join(problems)
        return
    result.card_id = await db(_card_accept)(interview=interview)
    participant = interview.participant
    for impression in await db(_draw)(participant=participant, rng=plan.rng):
        judgement = await db(_judge)(persona=plan.persona, impression=impression, study=study)
        result.votes += await db(_vote)(
            participant=participant, impression=impression, judgement=judgement
        )
    await db(_finish)(participant=participant, persona=plan.persona, rng=plan.rng)
    result.status = COMPLETED


async def _converse(
    interview: Interview, persona: Persona, max_turns: int, result: ParticipantResult
) -> bool:
    """Talk until the interviewer proposes a card (True), or say in `result` why not.

    After `max_turns` messages without a card the participant presses "Make my card", as a
    person would, when the study offers the button by then.
    """
    for turn in range(1, max_turns + 1):
        result.messages = turn
        await db(_participant_says)(interview=interview, persona=persona)
        frames = await _interviewer_answers(interview)
        if turn == max_turns and frames[-1]["type"] not in ("card", "fallback", "error"):
            if max_turns >= interview.participant.study.card_button_after:
                result.made_card = True
                frames = await _interviewer_answers(interview, make_card=True)
        last = frames[-1]
        if last["type"] == "card":
            return True
        if last["type"] in ("fallback", "error"):
            result.status = FALLBACK if last["type"] == "fallback" else FAILED
            result.detail = f"interviewer {last['code']}"
            return False
    result.status, result.detail = NO_CARD, f"no card after {max_turns} messages"
    return False


async def _interviewer_answers(interview: Interview, *, make_card: bool = False) -> list[dict]:
    """The frames of one interviewer reply. After an error frame the turn is run again, as a
    participant pressing "try again" would, until it succeeds or the interview falls back."""
    frames: list[dict] = []

    async def send(frame: dict) -> None:
        frames.append(frame)

    for _ in range(max(settings.MGE_LLM_FAILURES_BEFORE_FALLBACK, 1)):
        frames.clear()
        await interviewer_turn(interview, send, make_card=make_card)
        if not frames or frames[-1]["type"] != "error":
            break
    if not frames:
        raise SimulationError("The interviewer turn sent nothing.")
    return frames


# --- the blocking steps, each run on a worker thread ---


def _enrol(*, study: Study, persona: Persona, external_id: str) -> Interview:
    """A consented participant, with the persona's demographics, in an opened interview."""
    with transaction.atomic():
        participant = services.participant_start(study=study)
        participant.external_id = external_id
        participant.save(update_fields=["external_id"])
        services.participant_consent(participant=participant, agreed=True)
        if study.ask_demographics:
            services.participant_demographics_save(
                participant=participant, answers=persona.demographics()
            )
        question = selectors.question_for_new_interview(participant)
        if question is None:
            raise SimulationError(f"Study {study.slug!r} has no questions to interview about.")
        interview = services.interview_start(participant=participant, question=question)
    # The turn reads these without touching the database from the event loop.
    return Interview.objects.select_related("question", "participant__study").get(pk=interview.pk)


def _participant_says(*, interview: Interview, persona: Persona) -> None:
    """The persona model writes the participant's next message, stored like a typed one.

    A message that steps out of the role ("Sure, I'd be happy to continue as Grace") is asked
    for once more, with a reminder.
    """
    history = selectors.interview_history_messages(interview)
    transcript = [(message["role"], message["content"]) for message in history]
    messages, prompt = personas.participant_messages(persona, interview.question.text, transcript)
    study = interview.participant.study
    tag = _tag("simulated_participant", prompt, study, interview_id=interview.pk)
    text = chat(messages, tag=tag, max_tokens=PERSONA_MAX_TOKENS).text.strip()
    if personas.out_of_character(text):
        reminder = personas.IN_CHARACTER_REMINDER
        retry = [*messages, {"role": "assistant", "content": text}, reminder]
        text = chat(retry, tag=tag, max_tokens=PERSONA_MAX_TOKENS).text.strip()
    text = text[: settings.MGE_MESSAGE_MAX_CHARS]
    if not text:
        raise LLMOutputInvalid("The simulated participant wrote nothing.")
    services.interview_message_add(
        interview=interview, client_id=f"sim-{uuid.uuid4().hex}", content=text
    )


def _card_problems(*, interview: Interview) -> list[str]:
    """Why the persona would refuse the proposed card as nonsense (nothing: it is plausible)."""
    card = selectors.interview_card(interview)
    if card is None:
        return []
    said = [
        m["content"] for m in selectors.interview_history_messages(interview) if m["role"] == "user"
    ]
    fields = personas.CardText(card.title, card.description, list(card.policies), card.context.name)
    return personas.card_nonsense(fields, [interview.question.text, *said])


def _card_accept(*, interview: Interview) -> int:
    """Confirm the proposed card as it stands (deduplication follows, as in the browser)."""
    card = selectors.interview_card(interview)
    if card is None:
        raise SimulationError("The interviewer proposed a card, but none was stored.")
    return services.card_confirm(card=card).pk


def _draw(*, participant: Participant, rng: random.Random) -> list[Impression]:
    """The participant's draw, as the vote page loads it: hypotheses with values and context."""
    services.votes_draw(participant=participant, rng=rng)
    return [
        impression
        for impression in selectors.participant_draw(participant)
        if not impression.answered
    ]


def _judge(*, persona: Persona, impression: Impression, study: Study) -> VoteJudgement:
    """The persona's judgement; an answer invalid twice counts as "unsure"."""
    hypothesis = impression.hypothesis
    shown = HypothesisText(
        context=hypothesis.context.name,
        from_value=_value_text(hypothesis.from_value),
        to_value=_value_text(hypothesis.to_value),
        story=hypothesis.story,
    )
    messages, prompt = personas.vote_messages(persona, shown)
    tag = _tag("simulated_vote", prompt, study)
    try:
        return ask_structured(messages, tag=tag, parse=personas.parse_vote)
    except LLMOutputInvalid as invalid:
        logger.info("Simulated vote on hypothesis %s counted as unsure: %s", hypothesis.pk, invalid)
        return personas.UNSURE


def _vote(*, participant: Participant, impression: Impression, judgement: VoteJudgement) -> int:
    _, created = services.vote_record(
        participant=participant,
        hypothesis_id=impression.hypothesis_id,
        answer=judgement.answer,
        reason=judgement.reason[: settings.MGE_MESSAGE_MAX_CHARS],
        client_id=f"sim-{uuid.uuid4().hex}",
    )
    return int(created)


def _finish(*, participant: Participant, persona: Persona, rng: random.Random) -> None:
    """Closing questions (random 1-5, marked as simulated in the comment), then completion."""
    answers: dict = {question: rng.randint(1, 5) for question in LIKERT_QUESTIONS}
    answers["comment"] = f"Simulated participant (persona {persona.name})."
    services.participant_feedback_save(participant=participant, answers=answers)
    services.participant_complete(participant=participant)


def _value_text(value) -> ValueText:
    return ValueText(value.pk, value.title, value.description, value.policies)


def _tag(purpose: str, prompt: Prompt, study: Study, interview_id: int | None = None) -> CallTag:
    return CallTag(
        purpose=purpose,
        prompt_name=prompt.name,
        prompt_version=prompt.version,
        study_id=study.pk,
        interview_id=interview_id,
        model=study.model_name,
    )
