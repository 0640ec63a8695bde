"""`manage.py build_graph` stores a study's moral graph once per distinct version."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from elicitation.models import WisdomVote
from moralgraph.models import GraphBuild
from tests.factories import voted_study

pytestmark = pytest.mark.django_db


def build_graph(slug: str) -> str:
    out = StringIO()
    call_command("build_graph", "--study", slug, stdout=out)
    return out.getvalue()


def test_it_stores_a_build_and_says_what_it_holds(study):
    voted_study(study, voters=3)

    said = build_graph(study.slug)

    build = GraphBuild.objects.get(study=study)
    assert f"Graph {build.graph_version[:12]} (stored): 6 votes by 3 raters" in said
    assert "on 3 values in 1 context;" in said


def test_building_again_without_new_votes_keeps_the_newest_build(study):
    voted_study(study, voters=3)
    build_graph(study.slug)

    said = build_graph(study.slug)

    assert "(unchanged, newest build kept)" in said
    assert GraphBuild.objects.filter(study=study).count() == 1


def test_a_new_vote_gives_a_new_build(study, participant):
    context = voted_study(study, voters=3)
    build_graph(study.slug)
    hypothesis = context.hypotheses.first()
    WisdomVote.objects.create(participant=participant, hypothesis=hypothesis, answer="wiser")

    assert "(stored): 7 votes" in build_graph(study.slug)
    assert GraphBuild.objects.filter(study=study).count() == 2


def test_an_unknown_study_is_a_command_error(db):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        build_graph("nope")
