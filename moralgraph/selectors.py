"""Reads for the moral-graph services, tasks and pages."""

from collections.abc import Iterable
from typing import Any

import numpy as np
from django.db.models import IntegerField, Max, QuerySet, Subquery, TextField
from django.db.models.fields.json import KT, KeyTransform
from django.db.models.functions import Cast, Coalesce

from elicitation.models import Context, Study, ValuesCard

from .core.compare import compare_builds
from .core.store import section_key
from .models import (
    CanonicalValue,
    CardLink,
    GraphBuild,
    GraphBuildSection,
    Moderation,
    UpgradeHypothesis,
)
from .reranker import embedding


def cards_awaiting_dedupe(study: Study) -> QuerySet[ValuesCard]:
    """The study's confirmed cards not yet linked to a canonical value, oldest first."""
    return ValuesCard.objects.filter(
        study=study, status=ValuesCard.Status.CONFIRMED, canonical_link__isnull=True
    ).order_by("id")


def live_values(study: Study) -> QuerySet[CanonicalValue]:
    """The study's values that were not merged into another one."""
    return CanonicalValue.objects.filter(study=study, merged_into__isnull=True)


def study_value_embeddings(study: Study) -> tuple[list[int], np.ndarray]:
    """Ids and stacked embeddings (one row each) of the live values embedded by our model."""
    rows = list(
        live_values(study)
        .filter(embedding__isnull=False, embedding_model=embedding.MODEL_NAME)
        .order_by("id")
        .values_list("id", "embedding")
    )
    if not rows:
        return [], np.zeros((0, embedding.DIMENSION), dtype=np.float32)
    return [pk for pk, _ in rows], np.stack([embedding.from_bytes(blob) for _, blob in rows])


def context_values(context: Context) -> QuerySet[CanonicalValue]:
    """Live values with at least one card written in `context`."""
    return (
        live_values(context.study)
        .filter(card_links__card__context=context)
        .distinct()
        .order_by("id")
    )


def context_hypotheses_current(context: Context) -> bool:
    """Whether generated hypotheses exist and are newer than every card link in the context and
    than the last merge that moved cards into it."""
    generated = UpgradeHypothesis.objects.filter(
        context=context, source=UpgradeHypothesis.Source.LLM
    ).aggregate(latest=Max("created_at"))["latest"]
    linked = CardLink.objects.filter(card__context=context).aggregate(latest=Max("created_at"))
    changes = [stamp for stamp in (linked["latest"], context.cards_moved_at) if stamp is not None]
    return generated is not None and all(generated >= stamp for stamp in changes)


def contexts_with_cards(study_id: int) -> list[int]:
    """The study's canonical contexts (live, matched) that hold cards: where hypotheses go."""
    return list(
        canonical_contexts(study_id)
        .filter(cards__isnull=False)
        .distinct()
        .order_by("id")
        .values_list("id", flat=True)
    )


def canonical_contexts(study_id: int) -> QuerySet[Context]:
    """Contexts not merged away and not waiting to be matched."""
    return Context.objects.filter(study_id=study_id, merged_into__isnull=True, pending=False)


def contexts_awaiting_match(study: Study) -> QuerySet[Context]:
    """New wordings from interviews not yet matched against their questions' contexts."""
    return Context.objects.filter(study=study, pending=True, merged_into__isnull=True).order_by(
        "id"
    )


def contexts_needing_hypotheses(study: Study) -> list[Context]:
    """Canonical contexts with two or more values whose generated hypotheses are not current."""
    contexts = canonical_contexts(study.pk).filter(pk__in=contexts_with_cards(study.pk))
    return [
        context
        for context in contexts.select_related("study").order_by("id")
        if context_values(context).count() >= 2 and not context_hypotheses_current(context)
    ]


def context_candidates(context: Context) -> tuple[list[int], np.ndarray]:
    """Ids and embeddings (one row each, our model only) of the canonical contexts that `context`
    may be matched to: those sharing a question with it, or the whole study's if it has none."""
    candidates = canonical_contexts(context.study_id).exclude(pk=context.pk)
    question_ids = list(context.questions.values_list("id", flat=True))
    if question_ids:
        candidates = candidates.filter(questions__in=question_ids).distinct()
    rows = list(
        candidates.filter(embedding__isnull=False, embedding_model=embedding.MODEL_NAME)
        .order_by("id")
        .values_list("id", "embedding")
    )
    if not rows:
        return [], np.zeros((0, embedding.DIMENSION), dtype=np.float32)
    return [pk for pk, _ in rows], np.stack([embedding.from_bytes(blob) for _, blob in rows])


def _builds_newest_first(study: Study) -> QuerySet[GraphBuild]:
    return GraphBuild.objects.filter(study=study).order_by("-built_at", "-id")


def latest_graph_build(study: Study) -> GraphBuild | None:
    """The study's newest stored moral graph, with its summary (its sections stay behind)."""
    return _builds_newest_first(study).first()


def graph_build_named(study: Study, name: str) -> GraphBuild | None:
    """The study's build with id ``name``, or else its newest build labelled ``name``."""
    builds = _builds_newest_first(study)
    by_id = builds.filter(pk=int(name)).first() if name.strip().isdigit() else None
    return by_id or builds.filter(label=name.strip()).first()


def latest_graph_build_stamp(study: Study) -> dict[str, Any] | None:
    """When the newest build was made and from how many votes, without loading its summary."""
    votes = Coalesce(Cast(KT("summary__counts__votes"), IntegerField()), 0)
    return _builds_newest_first(study).values("built_at", "graph_version", votes=votes).first()


def graph_build_intervals(
    build: GraphBuild, context_ids: Iterable[str]
) -> dict[str, dict[Any, tuple[Any, Any, Any]]]:
    """Per context id (as text): value id -> (lo, hi, P(top)) as ``build`` stored its
    Bradley-Terry rows; only that part of each section is read."""
    keys = {section_key(cid): str(cid) for cid in context_ids}
    rows = GraphBuildSection.objects.filter(build=build, key__in=keys)
    rows = rows.annotate(rows=KeyTransform("bradley_terry", "data")).values_list("key", "rows")
    return {
        keys[key]: {row["value"]: (row["lo"], row["hi"], row["prob_top"]) for row in bt or []}
        for key, bt in rows
    }


def graph_build_section_text(build: GraphBuild, key: str) -> str:
    """One section of ``build`` as the text it was stored as."""
    rows = GraphBuildSection.objects.filter(build=build, key=key)
    return rows.annotate(text=Cast("data", TextField())).values_list("text", flat=True).get()


def graph_build_section(build: GraphBuild, key: str) -> dict[str, Any] | None:
    """One section of ``build`` (``"global"`` or ``"context:<id>"``); None if it has none."""
    rows = GraphBuildSection.objects.filter(build=build, key=key)
    return rows.values_list("data", flat=True).first()


def graph_build_sections(build: GraphBuild, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Those of ``keys`` that ``build`` has, by key, in one query."""
    rows = GraphBuildSection.objects.filter(build=build, key__in=set(keys))
    return dict(rows.values_list("key", "data"))


def latest_graph_section(study: Study, key: str) -> dict[str, Any] | None:
    """A section of the study's newest build, in one query; None if no build or no section."""
    newest = _builds_newest_first(study).values("id")[:1]
    rows = GraphBuildSection.objects.filter(build_id=Subquery(newest), key=key)
    return rows.values_list("data", flat=True).first()


def moderation_queue(study: Study) -> dict[str, list]:
    """New values and stories waiting for the organizer (unchecked or flagged), oldest first."""
    waiting = (Moderation.PENDING, Moderation.FLAGGED)
    values = CanonicalValue.objects.filter(study=study, moderation__in=waiting).order_by("id")
    hypotheses = (
        UpgradeHypothesis.objects.filter(study=study, moderation__in=waiting)
        .select_related("context", "from_value", "to_value")
        .order_by("id")
    )
    return {"values": list(values), "hypotheses": list(hypotheses)}


def value_titles(study_id: int, ids: Iterable[int]) -> dict[str, str]:
    """Titles of the study's values with these ids, by id as text."""
    rows = CanonicalValue.objects.filter(study_id=study_id, pk__in=list(ids))
    return {str(pk): title for pk, title in rows.values_list("id", "title")}


def graph_builds_compared(earlier: GraphBuild, later: GraphBuild) -> dict[str, Any]:
    """What changed from ``earlier`` to ``later`` (see :mod:`moralgraph.core.compare`); both
    builds must be of the same study. Reads each build's context sections, one at a time."""
    if earlier.study_id != later.study_id:
        raise ValueError("Only builds of the same study can be compared.")
    return compare_builds(
        (earlier.summary, _context_sections(earlier)), (later.summary, _context_sections(later))
    )


def _context_sections(build: GraphBuild) -> dict[str, dict[str, Any]]:
    rows = GraphBuildSection.objects.filter(build=build, key__startswith="context:")
    return dict(rows.order_by("key").values_list("key", "data").iterator(chunk_size=20))
