"""The dashboard page that compares two builds of a study."""

import pytest
from django.urls import reverse

from elicitation.models import Study
from moralgraph.services import graph_build
from tests.factories import a_new_wiser_value, voted_study
from tests.graph_support import FAST

pytestmark = pytest.mark.django_db


def compare_url(study, **params):
    url = reverse("dashboard:builds_compare", args=[study.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def test_the_page_shows_the_new_value_edge_and_winner_between_the_two_newest_builds(staff, study):
    context = voted_study(study)
    graph_build(study=study, config=FAST)
    newer = a_new_wiser_value(study, context)
    graph_build(study=study, config=FAST)

    page = staff.get(compare_url(study)).content.decode()

    assert "Winners that changed" in page
    assert f'data-context="{context.pk}"' in page
    assert f"Values added: {newer.pk}" in page
    assert f"→ {newer.pk} <strong>(changed)</strong>" in page


def test_a_study_with_one_build_is_told_it_needs_two(staff, study):
    voted_study(study)
    graph_build(study=study, config=FAST)

    page = staff.get(compare_url(study)).content.decode()

    assert "Two builds of this study are needed" in page


def test_a_build_of_another_study_cannot_be_named(staff, study):
    voted_study(study)
    mine = graph_build(study=study, config=FAST)
    other = Study.objects.create(slug="other-study", title="Other")
    theirs = other.graph_builds.create(summary={}, graph_version="x" * 64)

    response = staff.get(compare_url(study, earlier=theirs.pk, later=mine.pk))

    assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, study):
    response = client.get(compare_url(study))

    assert response.status_code == 302 and "login" in response.url


def test_an_organizer_names_a_build_as_a_wave_and_the_page_shows_it(staff, study):
    voted_study(study)
    build = graph_build(study=study, config=FAST)
    url = reverse("dashboard:build_label", args=[study.slug, build.pk])

    response = staff.post(url, {"label": "  Wave   1:\tspring  "})

    build.refresh_from_db()
    assert response.status_code == 302 and build.label == "Wave 1: spring"
    assert 'value="Wave 1: spring"' in staff.get(compare_url(study)).content.decode()


def test_a_get_or_another_studys_build_labels_nothing(staff, study):
    voted_study(study)
    build = graph_build(study=study, config=FAST)
    other = Study.objects.create(slug="other-study", title="Other")
    theirs = other.graph_builds.create(summary={}, graph_version="x" * 64)

    assert (
        staff.get(reverse("dashboard:build_label", args=[study.slug, build.pk])).status_code == 405
    )
    foreign = reverse("dashboard:build_label", args=[study.slug, theirs.pk])
    assert staff.post(foreign, {"label": "mine now"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.label == ""
