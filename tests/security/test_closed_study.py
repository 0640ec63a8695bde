"""Attack class 5: a closed study still took writes from sessions opened before it closed.

Each replay closes the study under a live session, tries one write path, and checks the clear
"closed" answer and that nothing was stored (and, over the socket, that no LLM was called).
"""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from elicitation import access, services
from elicitation.models import Impression, Interview, Message, Participant, Study, WisdomVote
from tests.conftest import participant_cookie_header
from tests.security.support import REAL_CARD, browser, card_form, chat, hypotheses, url


def close(study: Study) -> None:
    Study.objects.filter(pk=study.pk).update(state=Study.State.CLOSED)


@pytest.fixture
def interview(participant, question) -> Interview:
    interview = services.interview_start(participant=participant, question=question)
    chat(interview, 2)
    return interview


def assert_closed_page(response) -> None:
    assert response.status_code == 403
    assert "This study is closed" in response.content.decode()


def test_a_closed_study_refuses_consent_and_admits_nobody(study):
    close(study)

    response = browser().post(url("landing", slug=study.slug), {"decision": "agree"})

    assert "This study is not open" in response.content.decode()
    assert not Participant.objects.filter(study=study).exists()


def test_a_closed_study_refuses_demographics(study, participant):
    close(study)

    response = browser(participant).post(
        url("demographics", slug=study.slug), {"age_range": "25-34", "country": "Norway"}
    )

    assert_closed_page(response)
    participant.refresh_from_db()
    assert participant.demographics == {}


def test_a_closed_study_opens_no_new_interview(study, participant):
    close(study)

    response = browser(participant).get(url("start", slug=study.slug))

    assert "not taking participants" in response.content.decode()
    assert not Interview.objects.filter(participant=participant).exists()


def test_a_closed_study_refuses_a_guided_card(interview, participant):
    close(interview.participant.study)

    response = browser(participant).post(url("guided", pk=interview.pk), card_form(REAL_CARD))

    assert_closed_page(response)
    assert not hasattr(Interview.objects.get(pk=interview.pk), "card")


def test_a_closed_study_refuses_a_card_edit_and_a_confirmation(interview, participant):
    card = services.card_draft_save(interview=interview, **REAL_CARD)
    close(interview.participant.study)
    edited = card_form({**REAL_CARD, "title": "Something Else Entirely"}, confirm="1")

    response = browser(participant).post(url("card", pk=interview.pk), edited)

    assert_closed_page(response)
    card.refresh_from_db()
    assert (card.title, card.status, card.history) == (REAL_CARD["title"], "draft", [])


def test_a_closed_study_refuses_a_vote(study, interview, participant):
    services.card_confirm(card=services.card_draft_save(interview=interview, **REAL_CARD))
    hypotheses(study)
    services.votes_draw(participant=participant)
    shown = Impression.objects.filter(participant=participant).first()
    close(study)

    response = browser(participant).post(
        url("vote", slug=study.slug),
        {"hypothesis": shown.hypothesis_id, "answer": "wiser", "client_id": "v1"},
    )

    assert_closed_page(response)
    assert not WisdomVote.objects.filter(participant=participant).exists()


def test_a_closed_study_refuses_feedback_and_completion(study, interview, participant):
    services.card_confirm(card=services.card_draft_save(interview=interview, **REAL_CARD))
    close(study)
    me = browser(participant)

    feedback = me.post(
        url("results", slug=study.slug),
        {"represented": "5", "process_fair": "5", "graph_fair": "5"},
    )
    done = me.get(url("done", slug=study.slug))

    assert_closed_page(feedback)
    assert_closed_page(done)
    participant.refresh_from_db()
    assert participant.feedback == {} and participant.completed_at is None
    assert "prolific" not in done.get("Location", "")


def test_a_closed_study_refuses_writes_through_the_services_too(interview, participant):
    close(interview.participant.study)

    with pytest.raises(access.WriteRefused) as refused:
        services.interview_message_add(interview=interview, client_id="late", content="Hello?")

    assert refused.value.code == "study_closed"
    assert not Message.objects.filter(interview=interview, client_id="late").exists()


# --- the interview socket ---


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame",
    [{"type": "message", "client_id": "late-1", "content": "Still there?"}, {"type": "retry"}],
)
async def test_a_closed_study_refuses_chat_and_retries_without_calling_the_llm(
    frame, participant, question, fake_llm, llm_settings
):
    interview = await database_sync_to_async(services.interview_start)(
        participant=participant, question=question
    )
    await database_sync_to_async(chat)(interview, 1)  # a user message waits: retry has a reason
    headers = [participant_cookie_header(participant), (b"origin", b"http://testserver")]
    socket = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)
    assert (await socket.connect(timeout=5))[0]
    await socket.receive_json_from(timeout=5)  # history
    await database_sync_to_async(close)(participant.study)

    await socket.send_json_to(frame)
    answer = await socket.receive_json_from(timeout=5)

    assert answer["type"] == "error" and answer["code"] == "study_closed"
    assert "closed" in answer["message"]
    messages = await database_sync_to_async(
        lambda: list(Message.objects.filter(interview=interview).values_list("role", flat=True))
    )()
    assert messages == ["assistant", "user"]
    assert fake_llm.requests == []
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_card_proposed_after_the_study_closed_is_not_stored(
    participant, question, fake_llm, llm_settings, monkeypatch
):
    from elicitation.interviewer import interviewer_turn
    from elicitation.models import ValuesCard
    from tests.fakes.openai_server import SAMPLE_CARD, ToolCallReply

    interview = await database_sync_to_async(services.interview_start)(
        participant=participant, question=question
    )
    await database_sync_to_async(chat)(interview, 2)
    fake_llm.script(ToolCallReply("submit_values_card", json.dumps(SAMPLE_CARD)))
    save = services.card_draft_save

    def closing_first(**fields):  # the organizer closes while the model is answering
        close(participant.study)
        return save(**fields)

    monkeypatch.setattr(services, "card_draft_save", closing_first)
    frames: list[dict] = []

    async def send(frame: dict) -> None:
        frames.append(frame)

    await interviewer_turn(interview, send)

    assert frames[-1]["type"] == "error" and frames[-1]["code"] == "study_closed"
    assert not await database_sync_to_async(ValuesCard.objects.exists)()


def test_a_draft_study_admits_nobody_but_its_simulated_participants_may_write(study, question):
    Study.objects.filter(pk=study.pk).update(state=Study.State.DRAFT)
    study.refresh_from_db()

    page = browser().post(url("landing", slug=study.slug), {"decision": "agree"})
    simulated = services.participant_consent(
        participant=services.participant_start(study=study), agreed=True
    )
    services.interview_start(participant=simulated, question=question)

    assert "This study is not open" in page.content.decode()
    assert list(Participant.objects.filter(study=study)) == [simulated]
