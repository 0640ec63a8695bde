"""Exporting a study's moral graph as a bundle directory (SPEC section 6).

Reads go through :mod:`moralgraph.loaders` and :mod:`moralgraph.aggregation`; the files are
made by the pure writers in :mod:`moralgraph.export`. Votes leave only with consent: a
participant who consented and did not decline, the rater id replaced by a keyed hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

from elicitation.models import Question, Study, WisdomVote

from . import aggregation, loaders, selectors
from .core import Config
from .export import (
    BuildRef,
    BundleInputs,
    ComparisonInput,
    QuestionInput,
    StudyInfo,
    ValueInput,
    VoteInput,
    build_bundle,
    write_bundle,
)
from .models import GraphBuild
from .reranker import embedding


def study_export(
    study: Study,
    out_dir: Path | str,
    *,
    include_votes: bool = False,
    salt: str | None = None,
    config: Config | None = None,
    compare_with: GraphBuild | None = None,
) -> Path:
    """Write the bundle of ``study`` to ``out_dir`` (replacing an earlier one); its path.

    ``include_votes`` adds ``votes.jsonl`` and needs ``salt``, the key of the rater hashes,
    which is never written anywhere. ``compare_with``, an earlier stored build of the study,
    adds ``comparison.json``: what changed from it to the study's newest build.
    """
    if include_votes and not salt:
        raise ValueError("Exporting votes needs a salt to hash rater ids.")
    comparison = _comparison(study, compare_with) if compare_with is not None else None
    result = aggregation.study_graph(study, config)
    inputs = BundleInputs(
        study=StudyInfo(slug=study.slug, title=study.title, description=study.description),
        values=_values(study, result),
        contexts=loaders.study_contexts(study),
        questions=_questions(study),
        result=result,
        embedding_model=embedding.model_record(),
        votes=_consented_votes(study, aggregation.study_rater_flags(study))
        if include_votes
        else None,
        comparison=comparison,
    )
    return write_bundle(build_bundle(inputs, salt=salt), out_dir)


def _comparison(study: Study, earlier: GraphBuild) -> ComparisonInput:
    """What changed from ``earlier`` to the study's newest build (refused if they are one)."""
    later = selectors.latest_graph_build(study)
    if earlier.study_id != study.pk or later is None:
        raise ValueError(f"Build {earlier.pk} is not a build of study {study.slug!r}.")
    if later.pk == earlier.pk:
        raise ValueError(f"Build {earlier.pk} is the newest build: there is nothing to compare.")
    changes = selectors.graph_builds_compared(earlier, later)
    return ComparisonInput(earlier=_build_ref(earlier), later=_build_ref(later), changes=changes)


def _build_ref(build: GraphBuild) -> BuildRef:
    return BuildRef(
        id=build.pk,
        label=build.label,
        graph_version=build.graph_version,
        built_at=build.built_at.astimezone(UTC).isoformat(),
        votes=int((build.summary.get("counts") or {}).get("votes") or 0),
    )


def _values(study: Study, result: Mapping[str, Any]) -> list[ValueInput]:
    """The live values, plus any merged-away value that old votes still name."""
    values = loaders.study_values(study)
    missing = _named_value_ids(result) - {v.id for v in values}
    return values + loaders.study_values_named(study, missing) if missing else values


def _named_value_ids(result: Mapping[str, Any]) -> set[int]:
    named: set[int] = set()
    for section in result["contexts"].values():
        for edge in section["edges"]:
            named.update((int(edge["sourceValueId"]), int(edge["wiserValueId"])))
    return named


def _questions(study: Study) -> list[QuestionInput]:
    rows = Question.objects.filter(study=study).order_by("id").values_list("id", "title", "text")
    return [QuestionInput(*row) for row in rows]


def _consented_votes(study: Study, flags: Mapping[str, tuple[str, ...]]) -> Iterable[VoteInput]:
    """Votes of consenting participants, each with its rater's quality flags."""
    rows = (
        WisdomVote.objects.filter(
            hypothesis__study=study,
            participant__consented_at__isnull=False,
            participant__declined_at__isnull=True,
        )
        .order_by("id")
        .values_list(
            "participant_id",
            "hypothesis_id",
            "hypothesis__context_id",
            "hypothesis__from_value_id",
            "hypothesis__to_value_id",
            "answer",
        )
    )
    return [
        VoteInput(str(rater), hypothesis, context, src, dst, answer, flags.get(str(rater), ()))
        for rater, hypothesis, context, src, dst, answer in rows.iterator(
            chunk_size=loaders.CHUNK_SIZE
        )
    ]
