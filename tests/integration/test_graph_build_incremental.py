"""Incremental graph builds: with an acquiescence term per context, a build keeps the
Bradley-Terry intervals of every context no new vote touched, bootstraps only the others,
copies the stored section of every context whose section would come out the same, says
which it did, and stores the same graph (the same bytes, the same version) as a build that
recomputed everything."""

from dataclasses import replace

import pytest

from elicitation import services as elicitation_services
from elicitation.models import Study, WisdomVote
from moralgraph.core import section_key
from moralgraph.models import CanonicalValue, GraphBuild, GraphBuildSection, UpgradeHypothesis
from moralgraph.services import graph_build
from tests.factories import voted_chain, voted_study
from tests.graph_support import FAST

pytestmark = pytest.mark.django_db
PER_CONTEXT = replace(FAST, bt_alpha="per_context")


@pytest.fixture
def two_contexts(study: Study) -> tuple:
    study.graph_acquiescence = Study.Acquiescence.PER_CONTEXT
    study.save(update_fields=["graph_acquiescence"])
    grief = voted_study(study)
    doubt, _ = voted_chain(study, ("Calm", "Candour", "Patience"), name="When the user doubts")
    return grief, doubt


def new_voter_in(study: Study, context, answers=("wiser", "not_wiser")) -> None:
    voter = elicitation_services.participant_start(study=study)
    elicitation_services.participant_consent(participant=voter, agreed=True)
    hypotheses = UpgradeHypothesis.objects.filter(context=context).order_by("id")
    for hypothesis, answer in zip(hypotheses, answers, strict=False):
        WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer=answer)


def sections(build: GraphBuild) -> dict[str, dict]:
    return dict(build.sections.values_list("key", "data"))


def test_a_build_bootstraps_only_the_contexts_new_votes_touched(study, two_contexts):
    grief, doubt = two_contexts
    first = graph_build(study=study)
    new_voter_in(study, doubt)

    second = graph_build(study=study)

    assert first.summary["recomputed"]["bootstrapped"] == sorted([str(grief.pk), str(doubt.pk)])
    assert first.summary["recomputed"]["kept"] == []
    assert second.summary["recomputed"] == {
        "intervals_version": 1,
        "bootstrapped": [str(doubt.pk)],
        "kept": [str(grief.pk)],
        "sections_copied": [str(grief.pk)],
        "kept_from": first.pk,
    }
    assert second.config["bt_alpha"] == "per_context"


def test_an_incremental_build_stores_the_graph_a_full_build_stores(study, two_contexts):
    _, doubt = two_contexts
    graph_build(study=study)
    new_voter_in(study, doubt)
    incremental = graph_build(study=study)
    kept = incremental.summary["recomputed"]["kept"]
    expected = sections(incremental)
    GraphBuild.objects.filter(study=study).delete()

    full = graph_build(study=study)

    assert kept and full.summary["recomputed"]["kept"] == []
    assert full.graph_version == incremental.graph_version
    assert sections(full) == expected


def test_the_kept_intervals_are_read_from_the_earlier_build(study, two_contexts):
    grief, doubt = two_contexts
    first = graph_build(study=study)
    stored = GraphBuildSection.objects.get(build=first, key=section_key(grief.pk))
    stored.data["bradley_terry"][0]["lo"] = -99.0  # a mark no bootstrap would give
    stored.save()
    new_voter_in(study, doubt)

    second = graph_build(study=study)

    rows = sections(second)[section_key(grief.pk)]["bradley_terry"]
    assert [row["lo"] for row in rows].count(-99.0) == 1


def test_every_context_whose_votes_changed_is_bootstrapped_again(study, two_contexts):
    grief, doubt = two_contexts
    graph_build(study=study)
    new_voter_in(study, grief, answers=("less_wise",))
    new_voter_in(study, doubt, answers=("unsure", "wiser"))

    build = graph_build(study=study)

    assert build.summary["recomputed"]["kept"] == []
    assert build.summary["recomputed"]["bootstrapped"] == sorted([str(grief.pk), str(doubt.pk)])


def test_nothing_is_kept_with_one_acquiescence_term_for_the_study(study, two_contexts):
    _, doubt = two_contexts
    study.graph_acquiescence = Study.Acquiescence.SHARED
    study.save(update_fields=["graph_acquiescence"])
    graph_build(study=study)
    new_voter_in(study, doubt)

    build = graph_build(study=study)

    assert build.config["bt_alpha"] == "shared"
    assert build.summary["recomputed"]["kept"] == []
    assert len(build.summary["recomputed"]["bootstrapped"]) == 2


def test_nothing_is_kept_from_a_build_made_with_another_config(study, two_contexts):
    _, doubt = two_contexts
    graph_build(study=study, config=replace(PER_CONTEXT, bootstrap_samples=30))
    new_voter_in(study, doubt)

    build = graph_build(study=study, config=PER_CONTEXT)

    assert build.summary["recomputed"]["kept"] == []


def test_nothing_is_kept_from_a_build_of_an_older_interval_method(study, two_contexts):
    _, doubt = two_contexts
    first = graph_build(study=study)
    first.summary["recomputed"]["intervals_version"] = 0
    first.save(update_fields=["summary"])
    new_voter_in(study, doubt)

    build = graph_build(study=study)

    assert build.summary["recomputed"]["kept"] == []


def test_an_untouched_contexts_section_is_copied_from_the_earlier_build(study, two_contexts):
    grief, doubt = two_contexts
    first = graph_build(study=study)
    stored = GraphBuildSection.objects.get(build=first, key=section_key(grief.pk))
    stored.data["edges"][0]["mark"] = "copied"  # edge rows are not compared, only copied
    stored.save()
    new_voter_in(study, doubt)

    second = graph_build(study=study)

    assert second.summary["recomputed"]["sections_copied"] == [str(grief.pk)]
    assert sections(second)[section_key(grief.pk)]["edges"][0]["mark"] == "copied"
    assert second.summary["contexts"][str(grief.pk)] == first.summary["contexts"][str(grief.pk)]


def test_no_section_is_copied_after_a_value_title_changed(study, two_contexts):
    grief, doubt = two_contexts
    graph_build(study=study)
    CanonicalValue.objects.filter(title="Plain facts").update(title="Only the facts")
    new_voter_in(study, doubt)

    build = graph_build(study=study)

    assert build.summary["recomputed"]["sections_copied"] == []
    assert build.summary["recomputed"]["kept"] == [str(grief.pk)]
    assert "Only the facts" in sections(build)[section_key(grief.pk)]["labels"]["values"].values()
