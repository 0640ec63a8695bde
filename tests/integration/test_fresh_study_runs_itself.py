"""A fresh study, with nothing but its creation by an organizer, reaches votes and a moral
graph with kept edges: simulated participants go through the real services against the fake
server's scripted study (varied, paraphrased contexts; some cards first written as prose), and
the study's cadence does the rest with the bundled all-MiniLM-L6-v2 encoder.

Before canonical contexts, every paraphrased context made a context of its own, no context held
two values, and no hypothesis, vote or graph came of it.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import cadence
from dashboard.models import Job
from dashboard.studies import QuestionDraft, study_create, study_state_change
from elicitation.models import Context, Study, WisdomVote
from elicitation.simulation import simulate
from moralgraph import selectors
from tests.fakes.study_script import CONTEXTS, StudyScript

# The simulation's threads and the jobs they start use their own connections.
pytestmark = pytest.mark.django_db(transaction=True)

PARTICIPANTS = 12


@pytest.fixture
def scripted_llm(fake_llm, llm_settings):
    fake_llm.responder = StudyScript()
    llm_settings.LLM_MAX_RETRIES = 0
    return fake_llm


def kept_edges(study: Study) -> int:
    build = selectors.latest_graph_build(study)
    contexts = build.summary["contexts"].values() if build else []
    return sum(entry["kept_edges"] for entry in contexts)


def test_a_fresh_study_reaches_votes_and_a_graph_with_kept_edges_by_itself(scripted_llm):
    study = study_create(
        slug="fresh",
        fields={"title": "A fresh study"},
        questions=[QuestionDraft("abortion", "I am considering an abortion, what should I do?")],
    )
    study_state_change(study=study, state=Study.State.OPEN)

    report = simulate(study=study, participants=PARTICIPANTS, seed=7, concurrency=1, max_turns=6)
    # A beat of the periodic check, once the study's minutes have passed, picks up the last votes.
    later = timezone.now() + timedelta(minutes=study.refresh_every_minutes + 1)
    cadence.study_refresh_if_due(study=Study.objects.get(pk=study.pk), now=later)

    assert report.cards == PARTICIPANTS, report.summary()
    canonical = selectors.canonical_contexts(study.pk)
    assert sorted(canonical.values_list("name", flat=True)) == sorted(n[0] for n in CONTEXTS)
    wordings = Context.objects.filter(study=study).count()
    assert wordings > len(CONTEXTS)  # the paraphrases, each merged into its shared context
    assert not Context.objects.filter(study=study, pending=True).exists()
    assert WisdomVote.objects.filter(hypothesis__study=study).count() >= 10
    assert kept_edges(study) >= 1
    refreshes = Job.objects.filter(study=study, kind=Job.Kind.REFRESH)
    assert refreshes.count() >= 3 and not refreshes.exclude(state=Job.State.DONE).exists()


def test_a_study_whose_cards_all_come_from_make_my_card_reaches_votes(scripted_llm):
    study = study_create(
        slug="button",
        fields={"title": "Cards by button", "card_button_after": 2},
        questions=[QuestionDraft("abortion", "I am considering an abortion, what should I do?")],
    )
    study_state_change(study=study, state=Study.State.OPEN)

    report = simulate(study=study, participants=PARTICIPANTS, seed=3, concurrency=1, max_turns=2)

    assert report.cards == PARTICIPANTS, report.summary()
    assert all(result.made_card for result in report.results)
    assert WisdomVote.objects.filter(hypothesis__study=study).count() >= 10
