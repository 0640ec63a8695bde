"""Writes of canonical contexts: seeding a question's list, proposing one with the model,
matching the new wordings interviews write, and merging contexts (cards, hypotheses and votes
follow).
"""

import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from elicitation.llm import client as llm_client
from elicitation.llm.client import CallTag
from elicitation.llm.errors import LLMError
from elicitation.models import Context, Impression, Question, Study, ValuesCard, WisdomVote

from . import contexts, dedupe, selectors
from .llm import ask_structured
from .models import UpgradeHypothesis
from .reranker import embedding

logger = logging.getLogger(__name__)


# --- seeding and proposing ---


def contexts_seed(
    *, question: Question, names: Iterable[str], source: str = Context.Source.ORGANIZER
) -> list[Context]:
    """Make each name one of the question's canonical contexts; returns the contexts, in order.

    A name the study already has (any case or spacing) reuses that context, or the one it was
    merged into, and a pending one becomes canonical. Names that cannot be contexts (see
    `contexts.name_problem`) raise ValueError before anything is written.
    """
    cleaned = list(dict.fromkeys(contexts.normalise(name) for name in names if name.strip()))
    problems = [problem for name in cleaned if (problem := contexts.name_problem(name))]
    if problems:
        raise ValueError("; ".join(problems) + ".")
    with transaction.atomic():
        return [_context_seed_one(question, name, source) for name in cleaned]


def _context_seed_one(question: Question, name: str, source: str) -> Context:
    study_contexts = Context.objects.filter(study_id=question.study_id)
    context = study_contexts.filter(name__iexact=name).order_by("id").first()
    if context is None:
        context = Context.objects.create(study_id=question.study_id, name=name, source=source)
    context = context.live()
    if context.pending:
        Context.objects.filter(pk=context.pk).update(pending=False)
        context.pending = False
    context.questions.add(question)
    return context


def contexts_propose(*, question: Question) -> list[Context]:
    """Ask the model for the question's likely contexts and add the new ones as canonical.

    Raises LLMOutputInvalid when both answers were unusable, and the client's LLMErrors.
    """
    existing = list(
        selectors.canonical_contexts(question.study_id)
        .filter(questions=question)
        .values_list("name", flat=True)
    )
    messages, prompt = contexts.proposals_messages(question.text, existing)
    study = question.study
    tag = _tag("context_proposals", prompt.name, prompt.version, study)
    names = ask_structured(
        messages, tag=tag, parse=lambda text: contexts.parse_proposals(text, existing)
    )
    return contexts_seed(question=question, names=names, source=Context.Source.PROPOSED)


def study_contexts_propose(*, study: Study) -> int:
    """Proposals for each question that has no canonical context yet; returns how many made."""
    made = 0
    for question in study.questions.order_by("order", "id"):
        if not selectors.canonical_contexts(study.pk).filter(questions=question).exists():
            made += len(contexts_propose(question=question))
    return made


# --- matching new wordings ---


def context_match(*, context: Context) -> Context:
    """Match a pending context to its question's canonical contexts; returns where it ended.

    As for cards (`dedupe`): a near-identical embedding merges it at once; the candidates in the
    uncertain band go to the LLM judge when one is configured; otherwise it becomes canonical
    itself. A transient judge failure is raised for the caller to retry.
    """
    context = context.live()
    if not context.pending:
        return context
    vector = embedding.embed_texts([context.name])[0]
    contexts_embed_missing(study_id=context.study_id)
    ids, matrix = selectors.context_candidates(context)
    floor = settings.MGE_CONTEXT_CANDIDATE_THRESHOLD
    candidates = dedupe.nearest(vector, matrix, ids, floor=floor)
    judge = _judge_for(context) if llm_client.is_configured() else None
    decision = dedupe.decide(
        candidates, same_threshold=settings.MGE_CONTEXT_SAME_THRESHOLD, judge=judge
    )
    _embedding_store(context, vector)
    if decision.value_id is None:
        Context.objects.filter(pk=context.pk).update(pending=False)
        context.pending = False
        return context
    target = Context.objects.get(pk=decision.value_id).live()
    return contexts_merge(target=target, sources=[context])


def contexts_match_pending(*, study: Study) -> int:
    """Match every pending context of the study, oldest first; returns how many were merged."""
    merged = 0
    for context in selectors.contexts_awaiting_match(study):
        merged += context_match(context=context).pk != context.pk
    return merged


def contexts_embed_missing(*, study_id: int) -> int:
    """Embed the canonical contexts that have no vector from our model (seeded, imported)."""
    stale = selectors.canonical_contexts(study_id).filter(
        Q(embedding__isnull=True) | ~Q(embedding_model=embedding.MODEL_NAME)
    )
    rows = list(stale.order_by("id"))
    if not rows:
        return 0
    vectors = embedding.embed_texts([row.name for row in rows])
    for row, vector in zip(rows, vectors, strict=True):
        row.embedding, row.embedding_model = embedding.to_bytes(vector), embedding.MODEL_NAME
    Context.objects.bulk_update(rows, ["embedding", "embedding_model"], batch_size=500)
    return len(rows)


def _embedding_store(context: Context, vector) -> None:
    Context.objects.filter(pk=context.pk).update(
        embedding=embedding.to_bytes(vector), embedding_model=embedding.MODEL_NAME
    )


def _judge_for(context: Context) -> dedupe.Judge:
    def judge(candidates: list[dedupe.Candidate]) -> int | None:
        ids = [candidate.value_id for candidate in candidates]
        names = Context.objects.in_bulk(ids)
        shown = [contexts.ContextText(pk, names[pk].name) for pk in ids]
        new = contexts.ContextText(context.pk, context.name)
        messages, prompt = contexts.judge_messages(new, shown)
        tag = _tag("context_judge", prompt.name, prompt.version, context.study)
        try:
            parse = lambda text: dedupe.parse_judge_answer(text, set(ids))  # noqa: E731
            return ask_structured(messages, tag=tag, parse=parse)
        except LLMError as error:
            if error.retryable:
                raise
            logger.warning("Context judge unusable for context %s: %s", context.pk, error)
            return None

    return judge


# --- merging ---


def contexts_merge(*, target: Context, sources: Sequence[Context]) -> Context:
    """Fold `sources` into `target`: their cards, questions and hypotheses move to it.

    A hypothesis whose edge `target` already has gives its votes (and impressions) to that one,
    except a vote by someone who voted there too; a hypothesis left with nothing is deleted, one
    left with votes is deactivated on its old context so no vote is lost. Sources stay, pointing
    at `target` through `merged_into`, so their wording still leads to it.
    """
    source_ids = [source.pk for source in sources if source.pk != target.pk]
    if any(source.study_id != target.study_id for source in sources):
        raise ValueError("Contexts from different studies cannot be merged.")
    with transaction.atomic():
        target = Context.objects.select_for_update().get(pk=target.pk)
        if target.merged_into_id:
            raise ValueError(f"“{target}” was merged into another context; merge into that one.")
        ValuesCard.objects.filter(context_id__in=source_ids).update(context=target)
        _hypotheses_move(source_ids, target)
        moved_questions = Question.objects.filter(contexts__in=source_ids).distinct()
        target.questions.add(*moved_questions)
        Context.objects.filter(Q(pk__in=source_ids) | Q(merged_into_id__in=source_ids)).update(
            merged_into=target, pending=False
        )
        target.pending, target.cards_moved_at = False, timezone.now()
        target.save(update_fields=["pending", "cards_moved_at"])
    return target


def _hypotheses_move(source_ids: list[int], target: Context) -> None:
    kept = {
        (h.from_value_id, h.to_value_id): h
        for h in UpgradeHypothesis.objects.filter(context=target).order_by("id")
    }
    for hypothesis in UpgradeHypothesis.objects.filter(context_id__in=source_ids).order_by("id"):
        pair = (hypothesis.from_value_id, hypothesis.to_value_id)
        if pair not in kept:
            hypothesis.context = target
            hypothesis.save(update_fields=["context"])
            kept[pair] = hypothesis
            continue
        _hypothesis_fold(hypothesis, into=kept[pair])


def _hypothesis_fold(hypothesis: UpgradeHypothesis, *, into: UpgradeHypothesis) -> None:
    """Move votes and impressions to `into` where the voter has none there; drop what is empty."""
    voters = WisdomVote.objects.filter(hypothesis=into).values("participant_id")
    WisdomVote.objects.filter(hypothesis=hypothesis).exclude(participant_id__in=voters).update(
        hypothesis=into
    )
    remaining = WisdomVote.objects.filter(hypothesis=hypothesis).values("participant_id")
    Impression.objects.filter(hypothesis=hypothesis).exclude(participant_id__in=remaining).update(
        hypothesis=into
    )
    if hypothesis.votes.exists() or hypothesis.impressions.exists():
        hypothesis.is_active = False
        hypothesis.save(update_fields=["is_active"])
    else:
        hypothesis.delete()


def _tag(purpose: str, prompt_name: str, prompt_version: str, study: Study) -> CallTag:
    return CallTag(
        purpose=purpose,
        prompt_name=prompt_name,
        prompt_version=prompt_version,
        study_id=study.pk,
        model=study.model_name,
    )
