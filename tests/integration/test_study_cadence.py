"""A study that updates itself: when an update is due, that it runs once, what it does, and
what the dashboard shows is waiting."""

import ast
import json
import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from dashboard import cadence, tasks
from dashboard.models import Job
from dashboard.studies import QuestionDraft, study_create
from elicitation import services as elicitation_services
from elicitation.models import Context, Study, ValuesCard
from moralgraph.models import CardLink, UpgradeHypothesis
from moralgraph.reranker import embedding
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db


def one_hot_by_first_line(texts, **options):
    """Same first line, same vector; different ones are (almost surely) orthogonal."""
    vectors = np.zeros((len(texts), embedding.DIMENSION), dtype=np.float32)
    for row, text in enumerate(texts):
        vectors[row, sum(map(ord, text.split("\n")[0])) % embedding.DIMENSION] = 1.0
    return vectors


@pytest.fixture(autouse=True)
def encoder(monkeypatch):
    monkeypatch.setattr(embedding, "embed_texts", one_hot_by_first_line)


@pytest.fixture
def no_llm(settings):
    settings.LLM_BASE_URL = settings.LLM_API_KEY = ""
    return settings


@pytest.fixture
def every_two(study) -> Study:
    study.refresh_every_cards, study.refresh_every_minutes = 2, None
    study.save()
    return study


def confirmed(participant, question, title: str, context: str = "When in distress"):
    interview = elicitation_services.interview_start(participant=participant, question=question)
    card = elicitation_services.card_draft_save(
        interview=interview,
        title=title,
        description=f"About {title}.",
        policies=["FEELINGS of fear", "MOMENTS of silence", "SIGNS of relief"],
        context=context,
    )
    return elicitation_services.card_confirm(card=card)


def test_an_update_is_due_after_the_set_number_of_new_confirmed_cards(
    every_two, question, participant, other_participant, settings
):
    settings.MGE_DEDUPE_ON_CONFIRM = False
    confirmed(participant, question, "Staying With Fear")
    assert not cadence.study_refresh_due(every_two)

    confirmed(other_participant, question, "Letting Her Lead")

    assert cadence.study_refresh_due(every_two)
    assert cadence.study_pending(every_two).cards_until_due == 0


def test_by_time_an_update_is_due_only_when_something_waits(study, participant, question):
    study.refresh_every_cards, study.refresh_every_minutes = None, 10
    study.refreshed_at = timezone.now() - timedelta(minutes=11)
    study.save()
    assert not cadence.study_refresh_due(study)

    Context.objects.create(study=study, name="When lost", pending=True)

    assert cadence.study_refresh_due(study)
    assert not cadence.study_refresh_due(study, now=timezone.now() - timedelta(minutes=2))


def test_confirming_the_card_that_makes_it_due_runs_the_update(
    every_two, question, participant, other_participant, committed, no_llm
):
    committed(confirmed, participant, question, "Staying With Fear", "When in distress")
    assert not Job.objects.exists()

    committed(confirmed, other_participant, question, "Letting Her Lead", "When the user is lost")

    job = Job.objects.get()
    assert (job.kind, job.state) == (Job.Kind.REFRESH, Job.State.DONE), job.error
    assert job.result["cards_linked"] == 0  # each card was deduplicated on confirmation
    assert CardLink.objects.count() == 2
    assert not Context.objects.filter(pending=True).exists()
    every_two.refresh_from_db()
    assert every_two.refreshed_at is not None and not cadence.study_refresh_due(every_two)


def test_an_update_under_way_is_returned_not_started_again(every_two, question, participant):
    ValuesCard.objects.create(
        study=every_two, title="A b", description="d", status="confirmed",
        confirmed_at=timezone.now(),
    )  # fmt: skip
    ValuesCard.objects.create(
        study=every_two, title="C d", description="d", status="confirmed",
        confirmed_at=timezone.now(),
    )  # fmt: skip
    running = Job.objects.create(study=every_two, kind=Job.Kind.REFRESH, state=Job.State.RUNNING)

    assert cadence.study_refresh_if_due(study=every_two) == running
    assert tasks.studies_refresh_due() == 1
    assert Job.objects.filter(kind=Job.Kind.REFRESH).count() == 1


def test_a_study_that_is_not_open_does_not_update_itself(every_two):
    every_two.state = Study.State.CLOSED
    every_two.save()
    for title in ("A b", "C d"):
        ValuesCard.objects.create(study=every_two, title=title, description="d", status="confirmed")

    assert cadence.study_refresh_due(every_two)
    assert cadence.study_refresh_if_due(study=every_two) is None
    assert tasks.studies_refresh_due() == 0


def test_the_update_generates_hypotheses_in_each_context_that_gained_values(
    every_two, question, participant, other_participant, committed, fake_llm, llm_settings
):
    story = "I used to list the options; then I saw her fear and let her reasons lead. " * 3

    def answer(request: dict) -> Reply:
        ids = [int(i) for i in re.findall(r"Value (\d+):", str(request))]
        if not ids:  # the question's contexts, proposed first
            return Reply('{"contexts": ["When in distress", "When seeking clarity"]}')
        return Reply(
            json.dumps({"hypotheses": [{"from_id": ids[0], "to_id": ids[1], "story": story}]})
        )

    fake_llm.responder = answer
    committed(confirmed, participant, question, "Staying With Fear")
    committed(confirmed, other_participant, question, "Letting Her Lead")

    job = Job.objects.get(kind=Job.Kind.REFRESH)
    assert job.result["hypotheses"] == 1, job.error
    assert UpgradeHypothesis.objects.get().context.name == "When in distress"
    assert job.result["contexts_proposed"] == 2


def test_creating_a_study_with_a_model_proposes_each_question_contexts(
    db, committed, fake_llm, llm_settings
):
    fake_llm.script(Reply('{"contexts": ["When in distress", "When seeking clarity"]}'))

    study = committed(
        study_create,
        slug="fresh",
        fields={"title": "Fresh"},
        questions=[QuestionDraft("q", "What should I do?")],
    )

    assert (study.refresh_every_cards, study.refresh_every_minutes) == (3, 10)
    assert Job.objects.get().kind == Job.Kind.CONTEXTS
    names = study.questions.get().contexts.values_list("name", flat=True)
    assert sorted(names) == ["When in distress", "When seeking clarity"]


def test_the_jobs_module_no_longer_imports_the_tasks_module():
    source = (Path(__file__).resolve().parents[2] / "dashboard" / "jobs.py").read_text()
    imported = {
        node.module
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module
    }

    assert "tasks" not in imported and "dashboard.tasks" not in imported


# --- the dashboard ---


def contexts_url(study) -> str:
    return reverse("dashboard:contexts", kwargs={"slug": study.slug})


def test_the_organizer_lists_a_question_contexts_and_sees_them(staff, study, question):
    seed = reverse("dashboard:context_seed", kwargs={"slug": study.slug})

    response = staff.post(
        seed, {"question": question.pk, "names": "When in distress\n\nwhen parenting"}
    )

    assert response.status_code == 302
    page = staff.get(contexts_url(study)).content.decode()
    assert "When in distress" in page and "When parenting" in page
    assert set(question.contexts.values_list("source", flat=True)) == {"organizer"}


def test_the_organizer_merges_contexts_and_their_cards_follow(staff, study, question):
    keep = Context.objects.create(study=study, name="When in distress")
    away = Context.objects.create(study=study, name="When overwhelmed", pending=True)
    card = ValuesCard.objects.create(study=study, title="A b", description="d", context=away)
    merge = reverse("dashboard:context_merge", kwargs={"slug": study.slug})

    staff.post(merge, {"target": keep.pk, "sources": [away.pk, keep.pk]})

    card.refresh_from_db()
    away.refresh_from_db()
    assert card.context == keep and away.merged_into == keep


def test_merging_a_context_into_itself_is_refused_with_a_message(staff, study):
    keep = Context.objects.create(study=study, name="When in distress")
    merge = reverse("dashboard:context_merge", kwargs={"slug": study.slug})

    response = staff.post(merge, {"target": keep.pk, "sources": [keep.pk]}, follow=True)

    assert "Choose contexts other than the one to merge into." in response.content.decode()


def test_participants_cannot_reach_the_contexts_page(client, study):
    response = client.get(contexts_url(study))

    assert response.status_code == 302 and "login" in response["Location"]


def test_the_overview_shows_what_waits_for_the_next_update(staff, study):
    study.refresh_every_cards, study.refresh_every_minutes = 3, 10
    study.save()
    Context.objects.create(study=study, name="When lost", pending=True)

    page = staff.get(reverse("dashboard:overview", kwargs={"slug": study.slug})).content.decode()

    assert "<strong>1</strong> contexts not matched" in page
    assert "after 3 more confirmed cards" in page


def test_the_organizer_can_run_an_update_now_from_the_jobs_page(staff, study, committed, no_llm):
    Context.objects.create(study=study, name="When lost", pending=True)
    start = reverse("dashboard:job_start", kwargs={"slug": study.slug})

    committed(staff.post, start, {"kind": "refresh"})

    job = Job.objects.get()
    assert (job.kind, job.state) == (Job.Kind.REFRESH, Job.State.DONE), job.error
    assert not Context.objects.filter(pending=True).exists()
    assert (
        "Update now"
        in staff.get(reverse("dashboard:jobs", kwargs={"slug": study.slug})).content.decode()
    )


def test_the_refresh_studies_command_starts_the_due_updates_and_says_so(
    every_two, no_llm, committed
):
    for title in ("A b", "C d"):
        ValuesCard.objects.create(study=every_two, title=title, description="d", status="confirmed")
    out = StringIO()

    committed(call_command, "refresh_studies", stdout=out)
    committed(call_command, "refresh_studies", stdout=out)

    first, second = out.getvalue().splitlines()
    job = Job.objects.get()
    assert first.startswith(f"abortion-study: job {job.pk}: ")
    assert (job.kind, job.state) == (Job.Kind.REFRESH, Job.State.DONE)
    assert second == "abortion-study: not due"
