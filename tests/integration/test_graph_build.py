"""Stored graph builds: the service computes and stores a study's moral graph once per distinct
graph, NaN never reaches the database, the selector finds the newest, the admin only shows."""

import hashlib
import json

import pytest
from django.urls import reverse

from elicitation import services as elicitation_services
from elicitation.models import Study, WisdomVote
from moralgraph import aggregation
from moralgraph.aggregation import study_graph
from moralgraph.core import dumps
from moralgraph.models import GraphBuild, UpgradeHypothesis
from moralgraph.selectors import latest_graph_build
from moralgraph.services import graph_build
from tests.integration.test_dashboard_overview import FAST, voted_study

pytestmark = pytest.mark.django_db


def one_more_vote(study: Study) -> None:
    voter = elicitation_services.participant_start(study=study)
    elicitation_services.participant_consent(participant=voter, agreed=True)
    hypothesis = UpgradeHypothesis.objects.filter(study=study).first()
    WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer="wiser")


def test_a_build_stores_the_graph_as_its_json_reads_back_with_its_version(study):
    voted_study(study)

    build = graph_build(study=study, config=FAST)

    build.refresh_from_db()
    text = dumps(study_graph(study, FAST))
    assert build.result == json.loads(text)
    assert build.graph_version == hashlib.sha256(text.encode()).hexdigest()
    assert build.config == build.result["config"] and build.config["bootstrap_samples"] == 20
    assert build.result["counts"]["votes"] == 12 and build.built_at is not None


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
    assert second.result["counts"]["votes"] == 13


def test_nan_and_infinity_are_stored_as_none(study, monkeypatch):
    def graph_with_nan(study, config=None):
        return {
            "config": {},
            "counts": {"votes": 0},
            "winner": {"bt_prob_top": float("nan")},
            "spread": [1.5, float("inf"), float("-inf")],
        }

    monkeypatch.setattr(aggregation, "study_graph", graph_with_nan)

    build = graph_build(study=study)

    stored = GraphBuild.objects.get(pk=build.pk)
    assert stored.result["winner"] == {"bt_prob_top": None}
    assert stored.result["spread"] == [1.5, None, None]


def test_a_study_without_votes_still_gets_an_empty_build(study):
    build = graph_build(study=study, config=FAST)

    assert build.result["counts"]["votes"] == 0 and build.result["contexts"] == {}


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
