"""Background jobs of the moral graph. Thin: each takes ids, re-fetches, calls one service.

Each is safe to run twice: a linked card stays linked, and stored hypotheses are not repeated.
Only a model that is briefly unavailable is worth retrying; that is retried with backoff.
"""

from celery import shared_task

from elicitation.llm.errors import LLMUnavailable
from elicitation.models import Context, Study, ValuesCard

from . import selectors, services

RETRYING = {
    "autoretry_for": (LLMUnavailable,),
    "max_retries": 5,
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}


@shared_task(**RETRYING, soft_time_limit=120, time_limit=150)
def dedupe_card(card_id: int) -> int | None:
    """Link a confirmed card to its canonical value; returns the value's id."""
    card = ValuesCard.objects.select_related("study").filter(pk=card_id).first()
    link = services.card_dedupe(card=card) if card else None
    return link.value_id if link else None


@shared_task(**RETRYING, soft_time_limit=30 * 60, time_limit=31 * 60)
def dedupe_pending(study_id: int) -> int:
    """Deduplicate every confirmed card of the study that has no value yet."""
    study = Study.objects.filter(pk=study_id).first()
    return services.cards_dedupe_pending(study=study) if study else 0


@shared_task(**RETRYING, soft_time_limit=5 * 60, time_limit=6 * 60)
def generate_hypotheses(study_id: int, context_id: int, force: bool = False) -> int:
    """Generate upgrade hypotheses in one context; returns how many were stored."""
    contexts = Context.objects.select_related("study")
    context = contexts.filter(pk=context_id, study_id=study_id).first()
    if context is None:
        return 0
    return len(services.hypotheses_generate(context=context, force=force))


@shared_task
def generate_study_hypotheses(study_id: int, force: bool = False) -> int:
    """Queue `generate_hypotheses` for each context of the study with cards; returns how many."""
    context_ids = selectors.contexts_with_cards(study_id)
    for context_id in context_ids:
        generate_hypotheses.delay(study_id, context_id, force)
    return len(context_ids)


@shared_task(**RETRYING, soft_time_limit=120, time_limit=150)
def moderate_item(kind: str, item_id: int) -> str | None:
    """Check a new value ("value") or story ("hypothesis") before voters see it; its state."""
    model = services.MODERATED_KINDS.get(kind)
    item = model.objects.select_related("study").filter(pk=item_id).first() if model else None
    return services.moderation_check(item=item) if item else None
