"""Cost bounds on the LLM: what a study, an interview and one participant message may spend.

Three caps, each on by default and each a setting:
- a study's token budget (its own `token_budget`, else MGE_STUDY_TOKEN_BUDGET) and dollar cap
  (MGE_STUDY_SPEND_CAP_USD, checked against a sum at most SPEND_CACHE_SECONDS old): once
  reached, every call is refused and new interview turns switch to the guided form;
- an interview's tokens (MGE_INTERVIEW_TOKEN_CAP): past it, that interview falls back;
- LLM calls per participant message (MGE_LLM_CALLS_PER_MESSAGE): retries, reconnects and
  repairs of one message together; past it, a retry is refused until they write again.
A value of 0 switches a cap off.
"""

from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum

from .llm.errors import LLMBudgetExceeded, LLMInterviewCapReached, LLMMessageCapReached
from .models import LLMCall, Message, Study

# The dollar cap may be overshot by what a study spends in this long; the token cap may not.
SPEND_CACHE_SECONDS = 15
REACHED_TEXT = "Spend cap reached: new interview turns use the guided form."
WITHIN_TEXT = "Within the spend caps."


def study_token_budget(study: Study) -> int | None:
    """The study's own budget, else the default; None when there is no cap."""
    if study.token_budget is not None:
        return study.token_budget
    return settings.MGE_STUDY_TOKEN_BUDGET or None


def study_spend_cap_usd() -> Decimal | None:
    cap = settings.MGE_STUDY_SPEND_CAP_USD
    return Decimal(str(cap)) if cap else None


def study_spend_usd(study_id: int) -> Decimal:
    """Dollars spent, re-summed at most every SPEND_CACHE_SECONDS: the sum reads every call."""
    return cache.get_or_set(
        f"study-spend-usd:{study_id}", lambda: _sum_spend(study_id), timeout=SPEND_CACHE_SECONDS
    )


def _sum_spend(study_id: int) -> Decimal:
    spent = LLMCall.objects.filter(study_id=study_id).aggregate(usd=Sum("cost_usd"))["usd"]
    return spent or Decimal(0)


def study_cap_check(study_id: int) -> None:
    """Raise LLMBudgetExceeded once the study spent its token budget or its dollar cap."""
    study = Study.objects.filter(pk=study_id).only("token_budget", "tokens_spent").first()
    if study is None:
        return
    budget = study_token_budget(study)
    if budget is not None and study.tokens_spent >= budget:
        raise LLMBudgetExceeded(f"Study {study_id} spent {study.tokens_spent} of {budget} tokens.")
    cap = study_spend_cap_usd()
    if cap is not None and (spent := study_spend_usd(study_id)) >= cap:
        raise LLMBudgetExceeded(f"Study {study_id} spent ${spent} of its ${cap} cap.")


def study_caps_summary(study: Study, *, spent_usd: Decimal) -> dict:
    """The caps as the dashboard overview shows them, from numbers it has already read."""
    budget = study_token_budget(study)
    cap = study_spend_cap_usd()
    reached = (budget is not None and study.tokens_spent >= budget) or (
        cap is not None and spent_usd >= cap
    )
    return {
        "token_budget": budget,
        "spend_cap_usd": f"{cap:.2f}" if cap is not None else None,
        "interview_token_cap": settings.MGE_INTERVIEW_TOKEN_CAP or None,
        "calls_per_message": settings.MGE_LLM_CALLS_PER_MESSAGE or None,
        "reached": reached,
        "reached_text": REACHED_TEXT if reached else WITHIN_TEXT,
    }


def interview_cap_check(interview_id: int) -> None:
    """Raise when the interview spent its tokens, or its last message had its share of calls."""
    calls = LLMCall.objects.filter(interview_id=interview_id)
    cap = settings.MGE_INTERVIEW_TOKEN_CAP
    if cap:
        used = calls.aggregate(tokens=Sum("tokens_in") + Sum("tokens_out"))["tokens"] or 0
        if used >= cap:
            raise LLMInterviewCapReached(f"Interview {interview_id} used {used} of {cap} tokens.")
    per_message = settings.MGE_LLM_CALLS_PER_MESSAGE
    if per_message and calls_since_last_message(interview_id) >= per_message:
        raise LLMMessageCapReached(f"Interview {interview_id}: {per_message} calls on one message.")


def calls_since_last_message(interview_id: int) -> int:
    """Interview LLM calls made since the participant's latest message."""
    last = (
        Message.objects.filter(interview_id=interview_id, role=Message.Role.USER)
        .order_by("-id")
        .values_list("created_at", flat=True)
        .first()
    )
    calls = LLMCall.objects.filter(interview_id=interview_id, purpose="interview_turn")
    return calls.filter(created_at__gte=last).count() if last else calls.count()
