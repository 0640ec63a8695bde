"""Writes of the moral graph: deduplicating cards into canonical values, organizer merges and
splits, generated upgrade hypotheses, and stored graph builds. Tasks, admin actions and
commands call these.
"""

import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from threadpoolctl import threadpool_limits

from elicitation.llm import client as llm_client
from elicitation.llm.client import CallTag
from elicitation.llm.errors import LLMError
from elicitation.llm.prompts import Prompt
from elicitation.models import Context, Study, ValuesCard

from . import aggregation, dedupe, hypotheses, moderation, section_reuse, selectors
from .core import FLAGS, GLOBAL_SECTION, Config, dumps, section_key
from .core.by_context import INTERVALS_VERSION
from .core.inputs import contexts_changed, sorted_ids
from .core.report import STAGES, Parts, clean
from .core.store import SECTIONED, context_piece, global_piece, label_tables
from .encoded_json import EncodedJSON
from .llm import ask_structured
from .models import (
    CanonicalValue,
    CardLink,
    GraphBuild,
    GraphBuildSection,
    Moderation,
    RaterExclusion,
    UpgradeHypothesis,
)
from .prompting import ValueText
from .reranker import embedding

logger = logging.getLogger(__name__)

#: ``progress(done, total, message)``, told as a long write advances.
Progress = Callable[[int, int, str], None]


# --- deduplication ---


def card_dedupe(*, card: ValuesCard) -> CardLink | None:
    """Link a confirmed card to the canonical value it holds, or to a new one made from it.

    A card already linked keeps its link; a draft is left alone (None). See `dedupe` for the
    decision. The judge is asked only when the LLM is configured; a judge that cannot answer
    usefully leaves the card as a new value, except a transient failure, which is raised for
    the caller to retry.
    """
    if card.status != ValuesCard.Status.CONFIRMED:
        return None
    if link := CardLink.objects.filter(card=card).first():
        return link
    vector = embedding.embed_texts([_text_of(card)])[0]
    canonical_values_embed_missing(study=card.study)
    ids, matrix = selectors.study_value_embeddings(card.study)
    floor = settings.MGE_DEDUPE_CANDIDATE_THRESHOLD
    candidates = dedupe.nearest(vector, matrix, ids, floor=floor)
    judge = _judge_for(card) if llm_client.is_configured() else None
    decision = dedupe.decide(
        candidates, same_threshold=settings.MGE_DEDUPE_SAME_THRESHOLD, judge=judge
    )
    return _card_link_save(card=card, decision=decision, vector=vector)


def cards_dedupe_pending(*, study: Study) -> int:
    """Deduplicate the study's confirmed cards that have no value yet; return how many."""
    pending = selectors.cards_awaiting_dedupe(study)
    return sum(card_dedupe(card=card) is not None for card in pending)


def canonical_values_embed_missing(*, study: Study) -> int:
    """Embed the live values that have no vector from our model (imported, split, older)."""
    stale = selectors.live_values(study).filter(
        Q(embedding__isnull=True) | ~Q(embedding_model=embedding.MODEL_NAME)
    )
    values = list(stale.order_by("id"))
    if not values:
        return 0
    vectors = embedding.embed_texts([_text_of(value) for value in values])
    for value, vector in zip(values, vectors, strict=True):
        value.embedding = embedding.to_bytes(vector)
        value.embedding_model = embedding.MODEL_NAME
    CanonicalValue.objects.bulk_update(values, ["embedding", "embedding_model"], batch_size=500)
    return len(values)


def _judge_for(card: ValuesCard) -> dedupe.Judge:
    def judge(candidates: list[dedupe.Candidate]) -> int | None:
        ids = [candidate.value_id for candidate in candidates]
        values = CanonicalValue.objects.in_bulk(ids)
        shown = [_value_text(values[pk]) for pk in ids]
        messages, prompt = dedupe.judge_messages(_value_text(card), shown)
        try:
            return ask_structured(
                messages,
                tag=_tag("dedupe", prompt, card.study),
                parse=lambda text: dedupe.parse_judge_answer(text, set(ids)),
            )
        except LLMError as error:
            if error.retryable:
                raise
            logger.warning("Dedupe judge unusable for card %s, new value: %s", card.pk, error)
            return None

    return judge


def _card_link_save(*, card: ValuesCard, decision: dedupe.Decision, vector: np.ndarray) -> CardLink:
    with transaction.atomic():
        locked = ValuesCard.objects.select_for_update().get(pk=card.pk)
        if link := CardLink.objects.filter(card=locked).first():
            return link  # a concurrent run got here first
        value = _live_value(decision.value_id)
        if value is None:
            value = _value_from_card(locked, vector)
            decision = dedupe.Decision(dedupe.NEW)
        return CardLink.objects.create(
            card=locked, value=value, method=decision.method, similarity=decision.similarity
        )


def _live_value(value_id: int | None) -> CanonicalValue | None:
    """The value with this id, or the one it was merged into since; None if it is gone."""
    value = CanonicalValue.objects.filter(pk=value_id).first() if value_id else None
    seen = set()
    while value is not None and value.merged_into_id and value.pk not in seen:
        seen.add(value.pk)
        value = value.merged_into
    return value


def _value_from_card(card: ValuesCard, vector: np.ndarray | None) -> CanonicalValue:
    value = CanonicalValue.objects.create(
        study_id=card.study_id,
        title=card.title,
        description=card.description,
        policies=list(card.policies),
        moderation=moderation_initial(),
        embedding=None if vector is None else embedding.to_bytes(vector),
        embedding_model="" if vector is None else embedding.MODEL_NAME,
    )
    _moderation_queue(value)
    return value


# --- organizer merge and split ---


def canonical_values_merge(
    *, target: CanonicalValue, sources: Iterable[CanonicalValue]
) -> CanonicalValue:
    """Fold `sources` into `target`: their cards and hypotheses move to it.

    A hypothesis that would become a loop (target -> target) or repeat one already there is
    dropped: deleted when nobody saw it, otherwise deactivated and left on the old values so
    that its votes are kept. Sources stay, pointing at `target` through `merged_into`.
    """
    sources = [source for source in sources if source.pk != target.pk]
    source_ids = [source.pk for source in sources]
    if any(source.study_id != target.study_id for source in sources):
        raise ValueError("Values from different studies cannot be merged.")
    with transaction.atomic():
        if _was_merged(target):
            raise ValueError(f"“{target}” was merged into another value; merge into that one.")
        CardLink.objects.filter(value_id__in=source_ids).update(
            value=target, method=CardLink.Method.MANUAL, similarity=None
        )
        _hypotheses_repoint(source_ids, target)
        CanonicalValue.objects.filter(
            Q(pk__in=source_ids) | Q(merged_into_id__in=source_ids)
        ).update(merged_into=target)
    for source in sources:
        source.merged_into = target
    return target


def canonical_value_split(*, value: CanonicalValue, card_ids: Iterable[int]) -> CanonicalValue:
    """Move some of a value's cards to a new value, copied from the first of those cards.

    The new value's embedding is computed at the next deduplication; its hypotheses are none
    yet: they stay with `value`.
    """
    wanted = set(card_ids)
    links = list(value.card_links.filter(card_id__in=wanted).select_related("card"))
    if not wanted or len(links) != len(wanted):
        raise ValueError("Choose one or more cards that belong to this value.")
    if _was_merged(value):
        raise ValueError(f"“{value}” was merged into another value; split that one.")
    if len(links) == value.card_links.count():
        raise ValueError("Leave at least one card with the value; to change it, edit it.")
    first = min(links, key=lambda link: link.card_id).card
    with transaction.atomic():
        new = _value_from_card(first, None)
        CardLink.objects.filter(pk__in=[link.pk for link in links]).update(
            value=new, method=CardLink.Method.MANUAL, similarity=None
        )
    return new


def canonical_value_edit(
    *, value: CanonicalValue, title: str, description: str, policies: list[str]
) -> CanonicalValue:
    """An organizer's rewording of a live value; a value merged away cannot change.

    The old embedding no longer describes the text, so it is dropped: the next deduplication
    embeds the value again.
    """
    with transaction.atomic():
        if _was_merged(value):
            raise ValueError(f"“{value}” was merged into another value; edit that one.")
        value.title, value.description, value.policies = title, description, list(policies)
        value.embedding, value.embedding_model = None, ""
        value.save(
            update_fields=["title", "description", "policies", "embedding", "embedding_model"]
        )
    return value


def _was_merged(value: CanonicalValue) -> bool:
    return CanonicalValue.objects.filter(pk=value.pk, merged_into__isnull=False).exists()


def _hypotheses_repoint(source_ids: list[int], target: CanonicalValue) -> None:
    touching = Q(from_value_id__in=source_ids) | Q(to_value_id__in=source_ids)
    moving = list(UpgradeHypothesis.objects.filter(touching).order_by("id"))
    kept = set(
        UpgradeHypothesis.objects.filter(Q(from_value=target) | Q(to_value=target))
        .exclude(touching)
        .values_list("context_id", "from_value_id", "to_value_id")
    )
    for hypothesis in moving:
        ends = [
            target.pk if end in source_ids else end
            for end in (hypothesis.from_value_id, hypothesis.to_value_id)
        ]
        key = (hypothesis.context_id, *ends)
        if ends[0] == ends[1] or key in kept:
            _hypothesis_drop(hypothesis)
            continue
        kept.add(key)
        hypothesis.from_value_id, hypothesis.to_value_id = ends
        hypothesis.save(update_fields=["from_value", "to_value"])


def _hypothesis_drop(hypothesis: UpgradeHypothesis) -> None:
    if hypothesis.votes.exists() or hypothesis.impressions.exists():
        hypothesis.is_active = False
        hypothesis.save(update_fields=["is_active"])
    else:
        hypothesis.delete()


# --- upgrade hypotheses ---


def hypothesis_activity_set(*, hypothesis: UpgradeHypothesis, active: bool) -> UpgradeHypothesis:
    """Show a hypothesis to voters again, or stop showing it; the votes it has stay counted."""
    if hypothesis.is_active != active:
        hypothesis.is_active = active
        hypothesis.save(update_fields=["is_active"])
    return hypothesis


def hypotheses_generate(*, context: Context, force: bool = False) -> list[UpgradeHypothesis]:
    """Ask the model for upgrades among the context's values and store the new ones.

    Skipped (returns []) with fewer than two values, or when generated hypotheses are newer
    than every card in the context, unless `force`. Proposals that repeat a stored pair or its
    reverse are not stored. Raises LLMOutputInvalid if both answers were unusable.
    """
    values = list(selectors.context_values(context))
    if len(values) < 2 or (not force and selectors.context_hypotheses_current(context)):
        return []
    messages, prompt = hypotheses.hypotheses_messages(
        context.name, [_value_text(value) for value in values]
    )
    titles = {value.pk: value.title for value in values}
    parsed = ask_structured(
        messages,
        tag=_tag("hypotheses", prompt, context.study),
        parse=lambda text: hypotheses.parse_hypotheses(text, titles.keys(), titles),
        max_tokens=settings.LLM_MAX_OUTPUT_TOKENS,  # one story per pair of values: long
    )
    for reason in parsed.refused:
        logger.info("Context %s: hypothesis refused: %s", context.pk, reason)
    return _hypotheses_store(context, parsed.accepted, prompt.version)


def _hypotheses_store(
    context: Context, proposals: list[hypotheses.Proposal], prompt_version: str
) -> list[UpgradeHypothesis]:
    stored = []
    with transaction.atomic():
        known = UpgradeHypothesis.objects.filter(context=context)
        pairs = known.values_list("from_value_id", "to_value_id")
        for proposal in hypotheses.without_known_pairs(proposals, pairs):
            hypothesis, created = UpgradeHypothesis.objects.get_or_create(
                context=context,
                from_value_id=proposal.from_id,
                to_value_id=proposal.to_id,
                defaults={
                    "study_id": context.study_id,
                    "story": proposal.story,
                    "source": UpgradeHypothesis.Source.LLM,
                    "prompt_version": prompt_version,
                    "moderation": moderation_initial(),
                },
            )
            if created:
                stored.append(hypothesis)
                _moderation_queue(hypothesis)
    return stored


# --- graph builds ---


def graph_build(
    *, study: Study, config: Config | None = None, progress: Progress | None = None
) -> GraphBuild:
    """Compute the study's moral graph and store it, or return the newest build if it is the
    same graph (same ``graph_version``: votes, values and config unchanged).

    Each section is stored as it is made, as :func:`moralgraph.core.dumps` would write it read
    back (floats rounded; NaN or infinity, a Bradley-Terry P(top) that cannot be estimated, as
    None), in the pieces :func:`moralgraph.core.split_result` cuts: the summary on the build,
    one :class:`GraphBuildSection` per context and one for the global graph (kept edges). The
    whole result is never held at once. ``graph_version`` is the SHA-256 of the compact JSON of
    the head, then of each stored context section and the global one, in order. ``progress(done,
    total, message)`` is told of each context written.

    With an acquiescence term per context, the Bradley-Terry intervals of every context whose
    votes did not change since the newest build are kept from it (the same bytes a fresh
    bootstrap gives); the summary's ``recomputed`` says which contexts were bootstrapped again.
    """
    progress = progress or _silent
    stages = [aggregation.LOADING, *STAGES]
    # Until the votes are loaded the number of contexts is the study's (a close guess).
    steps = len(stages) + Context.objects.filter(study=study).count() + 1

    def on_stage(name: str) -> None:
        progress(stages.index(name), steps, name)

    newest = selectors.latest_graph_build(study)
    with threadpool_limits(limits=1, user_api="blas"):
        parts = aggregation.study_graph_parts(study, config, on_stage=on_stage, previous=newest)
        return _graph_build_store(study, parts, newest, _after_stages(progress, len(stages)))


def _after_stages(progress: Progress, stages: int) -> Progress:
    """``progress`` for the sections, counted after the stages that came before them."""

    def told(done: int, total: int, message: str) -> None:
        progress(stages + done, stages + total, message)

    return told


def _silent(done: int, total: int, message: str) -> None:
    return None


#: What a build's summary holds beyond the aggregation's head (see :func:`_inputs_summary`).
BUILD_INPUT_KEYS = (
    "context_inputs",
    "section_heads",
    "labels_digest",
    "changed_since",
    "recomputed",
)


def _inputs_summary(
    newest: GraphBuild | None,
    parts: Parts,
    head: dict[str, Any],
    heads: dict[str, str],
    copied: set[str],
) -> dict[str, Any]:
    """Each context's vote and section-head digests, the titles' digest, which contexts' votes
    changed since ``newest``, which contexts' Bradley-Terry intervals were bootstrapped here or
    kept from ``newest``, and whose sections were copied from it."""
    before = (newest.summary.get("context_inputs") if newest is not None else None) or None
    changes = contexts_changed(before, parts.inputs) if before is not None else None
    reused = newest is not None and bool(parts.kept or copied)
    return {
        "context_inputs": parts.inputs,
        "section_heads": heads,
        "labels_digest": section_reuse.labels_digest(head),
        "changed_since": {"build": newest.pk, **changes} if changes is not None else None,
        "recomputed": {
            "intervals_version": INTERVALS_VERSION,
            "bootstrapped": parts.bootstrapped,
            "kept": parts.kept,
            "sections_copied": sorted_ids(copied),
            "kept_from": newest.pk if reused else None,
        },
    }


@transaction.atomic
def _graph_build_store(
    study: Study, parts: Parts, newest: GraphBuild | None, progress: Progress
) -> GraphBuild:
    head = clean(parts.head)
    digest = hashlib.sha256(dumps(head, cleaned=True).encode())
    titles, names = label_tables(head["labels"])
    build = GraphBuild.objects.create(study=study, summary={}, config=head["config"])
    heads = section_reuse.head_digests(parts)
    copied = section_reuse.reusable_sections(newest, head, parts, heads)
    entries: dict[str, Any] = {}
    total = head["counts"]["contexts"]
    for done, (context_id, section) in enumerate(parts.contexts(copied), start=1):
        key = section_key(context_id)
        if section is None:
            entries[str(context_id)] = newest.summary["contexts"][str(context_id)]
            _section_copy(newest, build, key, digest)
        else:
            section = clean(section)
            entries[str(context_id)], data = context_piece(context_id, section, titles, names)
            _section_store(build, key, data, digest)
        progress(done, total + 1, f"{done} of {total} contexts written.")
    overall = clean(parts.overall(True))
    _section_store(build, GLOBAL_SECTION, global_piece(overall, titles), digest)
    version = digest.hexdigest()
    if newest is not None and newest.graph_version == version:
        transaction.set_rollback(True)
        return newest
    build.summary = {key: value for key, value in head.items() if key not in SECTIONED}
    build.summary["contexts"] = entries
    build.summary.update(_inputs_summary(newest, parts, head, heads, copied))
    build.graph_version = version
    build.save(update_fields=["summary", "graph_version"])
    progress(total + 1, total + 1, "Built.")
    return build


# --- moderation of text shown to other participants ---

Moderated = CanonicalValue | UpgradeHypothesis
MODERATED_KINDS: dict[str, type[CanonicalValue] | type[UpgradeHypothesis]] = {
    "value": CanonicalValue,
    "hypothesis": UpgradeHypothesis,
}


def moderation_initial() -> str:
    """The state new text from participants or the model starts in."""
    return Moderation.PASSED if settings.MGE_MODERATION == "off" else Moderation.PENDING


def moderation_check(*, item: Moderated) -> str:
    """Run the configured check on a pending item; its state after.

    The moderation endpoint when LLM_MODERATION_MODEL is set, else the LLM judge when a model is
    configured, else nothing: the item waits for the organizer. A check that cannot be made
    (refused, over budget, unusable answer) leaves it waiting too; one worth retrying raises.
    """
    if item.moderation != Moderation.PENDING:
        return item.moderation
    try:
        verdict = _moderation_verdict(item)
    except LLMError as error:
        if error.retryable:
            raise
        return _moderation_save(item, Moderation.PENDING, f"unchecked: {error}")
    if verdict is None:
        return _moderation_save(item, Moderation.PENDING, "no check configured: organizer decides")
    state = Moderation.PASSED if verdict.fit else Moderation.FLAGGED
    return _moderation_save(item, state, verdict.note)


def moderation_decide(*, item: Moderated, approved: bool) -> Moderated:
    """The organizer's word on an item: shown to others, or never."""
    item.moderation = Moderation.APPROVED if approved else Moderation.REJECTED
    item.moderation_note = "organizer"
    item.save(update_fields=["moderation", "moderation_note"])
    return item


def _moderation_verdict(item: Moderated) -> moderation.Verdict | None:
    text = _shown_text(item)
    if settings.LLM_MODERATION_MODEL:
        tag = CallTag(
            purpose="moderation",
            prompt_name="",
            prompt_version="",
            study_id=item.study_id,
            model=settings.LLM_MODERATION_MODEL,
        )
        result = llm_client.moderate(text, tag=tag)
        return moderation.endpoint_verdict(result.flagged, result.categories)
    if not llm_client.is_configured():
        return None
    messages, prompt = moderation.judge_messages(text)
    tag = _tag("moderation", prompt, item.study)
    return ask_structured(messages, tag=tag, parse=moderation.parse_judge_answer)


def _shown_text(item: Moderated) -> str:
    if isinstance(item, UpgradeHypothesis):
        return item.story
    return moderation.value_text(item.title, item.description, item.policies)


def _moderation_save(item: Moderated, state: str, note: str) -> str:
    """Store a check's result unless the organizer decided meanwhile; the state now."""
    rows = type(item).objects.filter(pk=item.pk)
    rows.filter(moderation=Moderation.PENDING).update(
        moderation=state, moderation_note=note[: moderation.NOTE_CHARS]
    )
    return rows.values_list("moderation", flat=True).get()


def _moderation_queue(item: Moderated) -> None:
    if item.moderation != Moderation.PENDING:
        return
    kind = "value" if isinstance(item, CanonicalValue) else "hypothesis"
    transaction.on_commit(lambda: _moderate_later(kind, item.pk), robust=True)


def _moderate_later(kind: str, pk: int) -> None:
    from .tasks import moderate_item  # the tasks import this module

    moderate_item.delay(kind, pk)


# --- rater cohorts left out of graph builds ---


def rater_exclusion_set(*, study: Study, kind: str, value: str, excluded: bool) -> None:
    """Leave a cohort (raters with a flag, or from one client hash) out of the study's graph
    builds, or take it back in. Raises ValueError for an unknown kind or flag."""
    if kind not in RaterExclusion.Kind.values:
        raise ValueError(f"Unknown cohort kind {kind!r}.")
    if kind == RaterExclusion.Kind.FLAG and value not in FLAGS:
        raise ValueError(f"Unknown flag {value!r}.")
    if not value or len(value) > 64:
        raise ValueError("A cohort needs a flag or a client hash.")
    if excluded:
        RaterExclusion.objects.get_or_create(study=study, kind=kind, value=value)
    else:
        RaterExclusion.objects.filter(study=study, kind=kind, value=value).delete()


def graph_build_label(*, build: GraphBuild, label: str) -> GraphBuild:
    """Name a build (a wave of the study, say); blank clears the name."""
    build.label = " ".join(label.split())[: GraphBuild._meta.get_field("label").max_length]
    build.save(update_fields=["label"])
    return build


def _section_copy(source: GraphBuild, build: GraphBuild, key: str, digest: Any) -> None:
    """Store ``source``'s section ``key`` in ``build`` as it is, and hash its text."""
    text = selectors.graph_build_section_text(source, key)
    digest.update(text.encode())
    GraphBuildSection.objects.create(build=build, key=key, data=EncodedJSON(text))


def _section_store(build: GraphBuild, key: str, data: dict[str, Any], digest: Any) -> None:
    """Store one section as it is made, and hash its JSON text: the text is encoded once and
    written as it is (:class:`EncodedJSON`). One INSERT each: a many-row bulk_create goes
    through PostgreSQL's UNNEST of arrays, whose megabyte elements psycopg escapes in Python."""
    text = dumps(data, cleaned=True)
    digest.update(text.encode())
    GraphBuildSection.objects.create(build=build, key=key, data=EncodedJSON(text))


# --- shared ---


def _text_of(card_or_value: ValuesCard | CanonicalValue) -> str:
    return embedding.card_text(
        card_or_value.title, card_or_value.description, card_or_value.policies
    )


def _value_text(card_or_value: ValuesCard | CanonicalValue) -> ValueText:
    item = card_or_value
    return ValueText(item.pk, item.title, item.description, list(item.policies))


def _tag(purpose: str, prompt: Prompt, study: Study) -> CallTag:
    return CallTag(
        purpose=purpose,
        prompt_name=prompt.name,
        prompt_version=prompt.version,
        study_id=study.pk,
        model=study.model_name,
    )
