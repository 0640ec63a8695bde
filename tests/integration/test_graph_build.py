"""Stored graph builds: the service computes and stores a study's moral graph once per distinct
graph, in pieces (a summary and a section per context and for the global graph) that give back
what the aggregation gave, NaN never reaches the database, the selectors find the newest build
and one section in one query, the admin only shows."""

import json

import pytest
from django.urls import reverse

from elicitation import services as elicitation_services
from elicitation.models import Study, WisdomVote
from moralgraph import aggregation
from moralgraph.aggregation import study_graph
from moralgraph.core import GLOBAL_SECTION, dumps, section_key, split_result
from moralgraph.core.report import Parts
from moralgraph.models import CanonicalValue, GraphBuild, GraphBuildSection, UpgradeHypothesis
from moralgraph.selectors import (
    graph_build_section,
    graph_build_sections,
    graph_builds_compared,
    latest_graph_build,
    latest_graph_section,
)
from moralgraph.services import BUILD_INPUT_KEYS, graph_build
from tests.factories import a_new_wiser_value, voted_chain, voted_study
from tests.graph_support import FAST

pytestmark = pytest.mark.django_db
#: What the service adds to the summary beyond the aggregation's head: votes per context.
INPUT_KEYS = BUILD_INPUT_KEYS


def one_more_vote(study: Study) -> None:
    voter = elicitation_services.participant_start(study=study)
    elicitation_services.participant_consent(participant=voter, agreed=True)
    hypothesis = UpgradeHypothesis.objects.filter(study=study).first()
    WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer="wiser")


def stored_sections(build: GraphBuild) -> dict[str, dict]:
    return dict(build.sections.values_list("key", "data"))


def without_labels(section: dict) -> dict:
    return {key: value for key, value in section.items() if key != "labels"}


def test_a_build_stores_the_graph_as_its_json_reads_back_in_pieces_with_its_version(study):
    voted_study(study)

    build = graph_build(study=study, config=FAST)

    build.refresh_from_db()
    text = dumps(study_graph(study, FAST))
    summary, sections = split_result(json.loads(text))
    stored = {k: v for k, v in build.summary.items() if k not in INPUT_KEYS}
    assert (stored, stored_sections(build)) == (summary, sections)
    assert len(build.graph_version) == 64 and int(build.graph_version, 16) >= 0  # a SHA-256
    assert build.config == build.summary["config"] and build.config["bootstrap_samples"] == 20
    assert build.summary["counts"]["votes"] == 12 and build.built_at is not None


def test_the_sections_give_back_each_contexts_data_and_the_global_graph(study):
    context = voted_study(study)
    build = graph_build(study=study, config=FAST)

    result = json.loads(dumps(study_graph(study, FAST)))
    sections = stored_sections(build)

    assert set(sections) == {section_key(context.pk), GLOBAL_SECTION}
    for context_id, data in result["contexts"].items():
        assert without_labels(sections[section_key(context_id)]) == data
    overall = without_labels(sections[GLOBAL_SECTION])
    assert overall["ranking"] == result["global"]["ranking"]
    assert overall["edges"] == [edge for edge in result["global"]["edges"] if edge["kept"]]
    titles = result["labels"]["values"]
    assert sections[section_key(context.pk)]["labels"] == {
        "values": titles,
        "contexts": {str(context.pk): context.name},
    }


def test_the_summary_names_values_only_in_the_winners_and_top_fives(study):
    context = voted_study(study)
    build = graph_build(study=study, config=FAST)

    entry = build.summary["contexts"][str(context.pk)]
    titles = {"Plain facts", "<script>alert(1)</script> Care", "Depth of feeling"}
    assert {row["title"] for row in entry["top"]} | {entry["winner"]["title"]} == titles
    rest = {**entry, "top": [], "winner": None}
    elsewhere = json.dumps({**build.summary, "contexts": {str(context.pk): rest}})
    assert not [title for title in titles if json.dumps(title)[1:-1] in elsewhere]
    assert "labels" not in build.summary and "global" not in build.summary
    assert (entry["name"], entry["ranked"], entry["edges"]) == (context.name, 3, 4)


def test_a_build_and_its_sections_are_stored_together_or_not_at_all(study, monkeypatch):
    voted_study(study)

    create = GraphBuildSection.objects.create

    def full_at_the_last_section(**fields):
        if fields["key"] == GLOBAL_SECTION:  # the context sections are written by now
            raise RuntimeError("disk full")
        return create(**fields)

    monkeypatch.setattr(GraphBuildSection.objects, "create", full_at_the_last_section)

    with pytest.raises(RuntimeError, match="disk full"):
        graph_build(study=study, config=FAST)
    assert not GraphBuild.objects.filter(study=study).exists()
    assert not GraphBuildSection.objects.filter(build__study=study).exists()


def test_one_section_is_read_in_one_query(study, django_assert_num_queries):
    context = voted_study(study)
    build = graph_build(study=study, config=FAST)
    key = section_key(context.pk)

    with django_assert_num_queries(1):
        newest = latest_graph_section(study, key)
    with django_assert_num_queries(1):
        same = graph_build_section(build, key)
    with django_assert_num_queries(1):
        several = graph_build_sections(build, [key, GLOBAL_SECTION, section_key(999)])

    assert newest == same == stored_sections(build)[key]
    assert set(several) == {key, GLOBAL_SECTION}
    assert graph_build_section(build, section_key(999)) is None
    assert latest_graph_section(Study.objects.create(slug="empty", title="Empty"), key) is None


def test_building_the_same_graph_again_returns_the_stored_build(study):
    voted_study(study)
    first = graph_build(study=study, config=FAST)

    again = graph_build(study=study, config=FAST)

    assert again.pk == first.pk
    assert GraphBuild.objects.filter(study=study).count() == 1


def test_new_votes_or_another_config_make_a_new_build(study):
    voted_study(study)
    first = graph_build(study=study, config=FAST)
    one_more_vote(study)

    second = graph_build(study=study, config=FAST)
    third = graph_build(study=study)

    assert len({first.pk, second.pk, third.pk}) == 3
    assert len({first.graph_version, second.graph_version, third.graph_version}) == 3
    assert second.summary["counts"]["votes"] == 13


def test_nan_and_infinity_are_stored_as_none(study, monkeypatch):
    def graph_with_nan(study, config=None, on_stage=None, previous=None):
        head = {
            "config": {},
            "counts": {"votes": 0, "contexts": 1},
            "labels": {"values": {}, "contexts": {}},
            "winner": {"bt_prob_top": float("nan")},
            "spread": [1.5, float("inf"), float("-inf")],
        }
        section = {"ranking": [], "bradley_terry": [], "winner": None, "spread": [float("nan")]}
        return Parts(head, lambda skip: iter([("7", section)]), lambda kept_only: {"edges": []})

    monkeypatch.setattr(aggregation, "study_graph_parts", graph_with_nan)

    build = graph_build(study=study)

    stored = GraphBuild.objects.get(pk=build.pk)
    assert stored.summary["winner"] == {"bt_prob_top": None}
    assert stored.summary["spread"] == [1.5, None, None]
    assert graph_build_section(stored, section_key(7))["spread"] == [None]


def test_a_study_without_votes_still_gets_an_empty_build(study):
    build = graph_build(study=study, config=FAST)

    assert build.summary["counts"]["votes"] == 0 and build.summary["contexts"] == {}
    assert list(build.sections.values_list("key", flat=True)) == [GLOBAL_SECTION]


def test_the_selector_gives_the_newest_build_of_the_study_only(study):
    assert latest_graph_build(study) is None
    voted_study(study)
    graph_build(study=study, config=FAST)
    one_more_vote(study)
    newest = graph_build(study=study, config=FAST)
    other = Study.objects.create(slug="other", title="Other")
    graph_build(study=other, config=FAST)

    assert latest_graph_build(study) == newest
    assert latest_graph_build(other).study == other


def test_the_admin_lists_builds_but_cannot_add_or_change_them(client, study, django_user_model):
    admin = django_user_model.objects.create_superuser("root", password="a-long-root-password")
    client.force_login(admin)
    build = graph_build(study=study, config=FAST)

    listing = client.get(reverse("admin:moralgraph_graphbuild_changelist"))
    detail = client.get(reverse("admin:moralgraph_graphbuild_change", args=[build.pk]))
    add = client.get(reverse("admin:moralgraph_graphbuild_add"))
    changed = client.post(reverse("admin:moralgraph_graphbuild_change", args=[build.pk]), {})

    assert listing.status_code == 200 and build.graph_version[:12] in listing.content.decode()
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert add.status_code == 403 and changed.status_code == 403


def test_a_build_reports_each_stage_then_each_context_as_it_is_written(study):
    context = voted_study(study)
    told = []

    build = graph_build(study=study, config=FAST, progress=lambda *args: told.append(args))

    assert [done for done, _, _ in told] == [0, 1, 2, 3, 5, 6]
    assert {total for _, total, _ in told} == {6}
    assert [message for _, _, message in told] == [
        "Loading votes.",
        "Fitting Bradley-Terry scores.",
        "Bradley-Terry intervals and P(top).",
        "Reliability and the publishing gate.",
        "1 of 1 contexts written.",
        "Built.",
    ]
    assert build.sections.filter(key=section_key(context.pk)).exists()


def test_a_rebuild_of_the_same_graph_leaves_no_second_build_or_sections(study):
    voted_study(study)
    first = graph_build(study=study, config=FAST)
    sections = GraphBuildSection.objects.count()

    again = graph_build(study=study, config=FAST)

    assert again.pk == first.pk and GraphBuild.objects.count() == 1
    assert GraphBuildSection.objects.count() == sections


def test_two_builds_compare_by_what_new_votes_changed(study):
    context = voted_study(study)
    first = graph_build(study=study, config=FAST)
    newer = a_new_wiser_value(study, context)
    wisest = CanonicalValue.objects.get(title="Depth of feeling")
    second = graph_build(study=study, config=FAST)

    change = graph_builds_compared(first, second)["contexts"][str(context.pk)]

    assert change["values_added"] == [str(newer.pk)]
    assert change["edges_appeared"] == [[str(wisest.pk), str(newer.pk)]]
    assert change["winner"] == {"before": str(wisest.pk), "after": str(newer.pk)}
    assert change["edges_flipped"] == change["edges_lost_support"] == []


def test_builds_of_different_studies_are_not_compared(study):
    voted_study(study)
    build = graph_build(study=study, config=FAST)
    other = GraphBuild.objects.create(
        study=Study.objects.create(slug="other", title="Other"), summary={}
    )

    with pytest.raises(ValueError, match="same study"):
        graph_builds_compared(build, other)


def test_a_build_names_the_contexts_whose_votes_changed_since_the_newest_build(study):
    grief = voted_study(study)
    doubt, _ = voted_chain(study, ("Calm", "Candour", "Patience"), name="When the user doubts")
    first = graph_build(study=study, config=FAST)
    one_more_vote_in(study, doubt)

    second = graph_build(study=study, config=FAST)

    assert first.summary["changed_since"] is None  # nothing to compare with
    assert second.summary["changed_since"] == {
        "build": first.pk,
        "changed": [str(doubt.pk)],
        "unchanged": [str(grief.pk)],
        "gone": [],
    }
    inputs = (first.summary["context_inputs"], second.summary["context_inputs"])
    assert inputs[0][str(grief.pk)] == inputs[1][str(grief.pk)]
    assert inputs[0][str(doubt.pk)] != inputs[1][str(doubt.pk)]


def one_more_vote_in(study: Study, context) -> None:
    voter = elicitation_services.participant_start(study=study)
    elicitation_services.participant_consent(participant=voter, agreed=True)
    hypothesis = UpgradeHypothesis.objects.filter(context=context).first()
    WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer="wiser")
