"""The dashboard's study list, live overview and reports: staff only, real numbers, escaped."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from config.asgi import application
from dashboard.models import Job
from dashboard.progress import study_progress
from elicitation import services
from elicitation.models import LLMCall, ValuesCard, WisdomVote
from moralgraph.models import GraphBuild, UpgradeHypothesis
from moralgraph.services import graph_build
from tests.factories import voted_study
from tests.graph_support import FAST

ORIGIN = (b"origin", b"http://testserver")


def built_graph(study) -> GraphBuild:
    return graph_build(study=study, config=FAST)


@pytest.mark.parametrize("name", ["overview", "reports"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, study, name):
    response = client.get(reverse(f"dashboard:{name}", args=[study.slug]))
    assert response.status_code == 302
    assert response.url.startswith(settings.LOGIN_URL)


def test_participants_and_non_staff_users_are_sent_to_the_login_page(
    client, study, django_user_model
):
    user = django_user_model.objects.create_user(username="curious", password="x-long-password")
    client.force_login(user)
    response = client.get(reverse("dashboard:study_list"))
    assert response.status_code == 302
    assert response.url.startswith(settings.LOGIN_URL)


def test_the_study_list_shows_every_study_with_its_state(client, organizer, study):
    client.force_login(organizer)
    page = client.get(reverse("dashboard:study_list")).content.decode()
    assert study.title in page
    assert reverse("dashboard:overview", args=[study.slug]) in page
    assert "Open" in page


def test_the_overview_counts_participants_cards_votes_and_spend(client, organizer, study):
    voted_study(study, voters=4)
    LLMCall.objects.create(
        study=study, purpose="interview", model="m", tokens_in=10, cost_usd=Decimal("0.25")
    )
    LLMCall.objects.create(study=study, purpose="interview", model="m", error="timeout")
    progress = study_progress(study)
    assert progress["participants"]["total"] == 4
    assert progress["participants"]["consented"] == 4
    assert progress["cards"]["confirmed"] == 3
    assert progress["values"] == 3
    assert progress["hypotheses"] == 2
    assert progress["votes"] == 8
    assert progress["voters"] == 4
    assert progress["llm"]["calls"] == 2
    assert progress["llm"]["failed"] == 1
    assert progress["llm"]["cost_usd"] == "0.2500"

    client.force_login(organizer)
    page = client.get(reverse("dashboard:overview", args=[study.slug])).content.decode()
    assert 'data-live="votes">8<' in page
    assert f'data-live-socket="/ws/dashboard/{study.slug}/"' in page


def test_spend_of_a_model_without_a_price_says_so_instead_of_guessing(study):
    LLMCall.objects.create(study=study, purpose="interview", model="local", tokens_in=900)

    assert study_progress(study)["llm"]["cost_usd"] == "price not set"
    assert study_progress(study)["llm"]["tokens_in"] == 900

    LLMCall.objects.create(
        study=study, purpose="interview", model="gpt-4o", tokens_in=10, cost_usd=Decimal("0.25")
    )
    assert study_progress(study)["llm"]["cost_usd"] == "0.2500 + 1 calls without a price"


def test_the_overview_gives_invite_and_prolific_links(client, organizer, study):
    client.force_login(organizer)
    page = client.get(reverse("dashboard:overview", args=[study.slug])).content.decode()
    invite = f"http://testserver/s/{study.slug}/"
    assert f'value="{invite}"' in page
    assert "PROLIFIC_PID={{%PROLIFIC_PID%}}" in page
    assert "STUDY_ID={{%STUDY_ID%}}" in page


def test_unfinished_jobs_are_always_in_the_snapshot(study):
    running = Job.objects.create(study=study, kind=Job.Kind.DEDUPE, state=Job.State.RUNNING)
    for _ in range(7):
        Job.objects.create(study=study, kind=Job.Kind.AGGREGATE, state=Job.State.DONE)
    running.created_at = timezone.now() - timezone.timedelta(days=1)
    running.save()
    jobs = study_progress(study)["jobs"]
    assert jobs[0]["id"] == running.pk
    assert len(jobs) == 6


def test_reports_say_when_no_graph_was_built(client, organizer, study):
    client.force_login(organizer)
    page = client.get(reverse("dashboard:reports", args=[study.slug])).content.decode()
    assert "No moral graph has been built" in page


def test_reports_show_the_gate_the_winner_and_its_reasons_escaped(client, organizer, study):
    voted_study(study)
    build = built_graph(study)
    client.force_login(organizer)
    page = client.get(reverse("dashboard:reports", args=[study.slug])).content.decode()
    assert "Publishing gate" in page
    assert f"From the graph built {build.built_at:%Y-%m-%d %H:%M} UTC: 12 votes" in page
    assert "When the user is &lt;b&gt;grieving&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Care" in page
    assert "<script>alert(1)" not in page
    for reason in build.summary["reliability"]["gate"]["failures"]:
        assert reason.replace("<", "&lt;") in page
    assert "Depth of feeling" in page


def test_reports_use_the_newest_graph(client, organizer, study):
    context = voted_study(study)
    built_graph(study)
    late = services.participant_consent(
        participant=services.participant_start(study=study), agreed=True
    )
    hypothesis = UpgradeHypothesis.objects.filter(context=context).first()
    WisdomVote.objects.create(
        participant=late, hypothesis=hypothesis, answer=WisdomVote.Answer.WISER
    )
    built_graph(study)
    client.force_login(organizer)
    page = client.get(reverse("dashboard:reports", args=[study.slug])).content.decode()
    assert "13 votes by 7 raters" in page
    assert "12 votes" not in page


# --- the live socket -------------------------------------------------------------------------


async def open_socket(study, cookie: str | None) -> WebsocketCommunicator:
    headers = [ORIGIN] + ([(b"cookie", f"sessionid={cookie}".encode())] if cookie else [])
    return WebsocketCommunicator(application, f"/ws/dashboard/{study.slug}/", headers)


@pytest.fixture
def fast_push(settings):
    settings.MGE_DASHBOARD_PUSH_SECONDS = 0.05


@pytest.mark.django_db(transaction=True)
async def test_the_live_socket_pushes_new_numbers_to_staff(client, organizer, study, fast_push):
    await sync_to_async(client.force_login)(organizer)
    communicator = await open_socket(study, client.cookies["sessionid"].value)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    first = await communicator.receive_json_from(timeout=5)
    assert first["type"] == "progress"
    assert first["progress"]["participants"]["total"] == 0

    await sync_to_async(services.participant_start)(study=study)
    second = await communicator.receive_json_from(timeout=5)
    assert second["progress"]["participants"]["total"] == 1
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_live_socket_sends_nothing_when_nothing_changed(
    client, organizer, study, fast_push
):
    await sync_to_async(client.force_login)(organizer)
    communicator = await open_socket(study, client.cookies["sessionid"].value)
    await communicator.connect(timeout=5)
    await communicator.receive_json_from(timeout=5)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_live_socket_refuses_anonymous_and_non_staff_users(
    client, study, django_user_model, fast_push
):
    communicator = await open_socket(study, None)
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4403

    user = await sync_to_async(django_user_model.objects.create_user)(
        username="curious", password="x-long-password"
    )
    await sync_to_async(client.force_login)(user)
    communicator = await open_socket(study, client.cookies["sessionid"].value)
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4403


@pytest.mark.django_db(transaction=True)
async def test_the_live_socket_refuses_an_unknown_study(client, organizer, study, fast_push):
    await sync_to_async(client.force_login)(organizer)
    study.slug = "no-such-study"
    communicator = await open_socket(study, client.cookies["sessionid"].value)
    connected, code = await communicator.connect(timeout=5)
    assert not connected and code == 4403


def test_cards_of_every_status_are_counted(study, participant, question):
    interview = services.interview_start(participant=participant, question=question)
    ValuesCard.objects.create(
        study=study, interview=interview, title="Draft", description="d", policies=[]
    )
    assert study_progress(study)["cards"] == {"total": 1, "draft": 1}


def test_a_progress_snapshot_costs_a_fixed_number_of_queries(study, django_assert_max_num_queries):
    """The live socket re-reads this every few seconds per open dashboard page."""
    voted_study(study, voters=2)
    with django_assert_max_num_queries(11):
        study_progress(study)
    for _ in range(5):
        Job.objects.create(study=study, kind=Job.Kind.DEDUPE, state=Job.State.RUNNING)
    with django_assert_max_num_queries(11):
        study_progress(study)


def test_the_overview_says_when_the_graph_was_built_and_how_many_votes_came_since(
    client, organizer, study, participant
):
    client.force_login(organizer)
    page = client.get(reverse("dashboard:overview", args=[study.slug])).content.decode()
    assert "Not built yet" in page and "Build the moral graph" in page

    context = voted_study(study, voters=3)
    build = graph_build(study=study, config=FAST)
    WisdomVote.objects.create(
        participant=participant, hypothesis=context.hypotheses.first(), answer="wiser"
    )

    graph = study_progress(study)["graph"]
    assert graph["version"] == build.graph_version[:12]
    assert (graph["votes"], graph["votes_since"]) == (6, 1)
    page = client.get(reverse("dashboard:overview", args=[study.slug])).content.decode()
    assert f"Newest build {build.graph_version[:12]}, from 6 votes" in page
    assert '<span data-live="graph.votes_since">1</span> new vote(s) since' in page
    assert "Build again" in page
