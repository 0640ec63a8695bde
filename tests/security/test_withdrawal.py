"""Attack class 6: agreeing, then declining, left consent set; the person could go on and
their data stayed. Declining after agreeing now withdraws: their data is deleted, their
session ends, later writes are refused, and the overview counts it."""

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from config.asgi import application
from elicitation import access, services
from elicitation.models import (
    Impression,
    Interview,
    Message,
    Participant,
    ValuesCard,
    WisdomVote,
)
from tests.conftest import participant_cookie_header
from tests.security.support import browser, confirmed_interview_card, hypotheses, url


@pytest.fixture
def engaged(study, question) -> Participant:
    """A Prolific participant with demographics, a chat, a confirmed card, votes and feedback."""
    participant = services.participant_start(study=study, recruitment={"PROLIFIC_PID": "pid-7"})
    services.participant_consent(participant=participant, agreed=True)
    services.participant_demographics_save(participant=participant, answers={"country": "Chile"})
    confirmed_interview_card(participant, question)
    hypotheses(study)
    for impression in services.votes_draw(participant=participant)[:2]:
        services.vote_record(
            participant=participant, hypothesis_id=impression.hypothesis_id, answer="wiser"
        )
    services.participant_feedback_save(participant=participant, answers={"represented": 4})
    return participant


def decline(client, study):
    return client.post(url("landing", slug=study.slug), {"decision": "decline"})


def test_declining_after_agreeing_deletes_the_persons_data(study, engaged):
    response = decline(browser(engaged), study)

    assert response.status_code == 302 and "withdrawn=1" in response["Location"]
    for model in (Interview, Message, ValuesCard, WisdomVote, Impression):
        assert not model.objects.exists(), model.__name__
    engaged.refresh_from_db()
    assert engaged.withdrawn_at is not None and engaged.consented_at is None
    assert (engaged.demographics, engaged.feedback, engaged.prolific_pid) == ({}, {}, "")


def test_withdrawing_ends_the_session(study, engaged):
    me = browser(engaged)

    response = decline(me, study)
    after = me.get(url("start", slug=study.slug))

    assert response.cookies[django_settings.MGE_PARTICIPANT_COOKIE].value == ""
    assert after["Location"] == url("landing", slug=study.slug)


def test_a_kept_cookie_writes_nothing_after_withdrawal(study, engaged):
    kept = browser(engaged)  # the attacker saved the cookie before withdrawing
    decline(browser(engaged), study)

    kept.post(url("demographics", slug=study.slug), {"country": "Peru"})
    kept.get(url("start", slug=study.slug))

    engaged.refresh_from_db()
    assert engaged.demographics == {} and not Interview.objects.exists()
    assert access.participant_from_cookie_value(kept.cookies["mge_participant"].value) is None


def test_a_withdrawn_participant_cannot_write_through_the_services(study, question, engaged):
    services.participant_consent(participant=engaged, agreed=False)

    with pytest.raises(access.WriteRefused) as refused:
        services.interview_start(participant=engaged, question=question)
    with pytest.raises(access.WriteRefused):
        services.participant_consent(participant=engaged, agreed=True)

    assert refused.value.code == "withdrawn"
    assert not Interview.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_an_open_socket_refuses_messages_after_withdrawal(participant, question, fake_llm):
    from channels.db import database_sync_to_async

    interview = await database_sync_to_async(services.interview_start)(
        participant=participant, question=question
    )
    headers = [participant_cookie_header(participant), (b"origin", b"http://testserver")]
    socket = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)
    assert (await socket.connect(timeout=5))[0]
    await socket.receive_json_from(timeout=5)
    await database_sync_to_async(services.participant_consent)(
        participant=participant, agreed=False
    )

    await socket.send_json_to({"type": "message", "client_id": "after", "content": "Hello"})
    answer = await socket.receive_json_from(timeout=5)

    assert answer["type"] == "error" and answer["code"] == "withdrawn"
    assert not await database_sync_to_async(Message.objects.filter(client_id="after").exists)()
    assert fake_llm.requests == []
    await socket.disconnect()


def test_withdrawing_is_still_possible_once_the_study_closed(study, engaged):
    study.state = study.State.CLOSED
    study.save()

    decline(browser(engaged), study)

    engaged.refresh_from_db()
    assert engaged.withdrawn_at is not None and not WisdomVote.objects.exists()


def test_the_overview_counts_withdrawals(staff, study, engaged, other_participant):
    decline(browser(engaged), study)

    page = staff.get(f"/dashboard/s/{study.slug}/")

    assert page.context["progress"]["participants"]["withdrawn"] == 1
    assert "withdrew" in page.content.decode()


def test_a_participant_finds_withdrawal_from_the_chat_and_confirms_it(study, engaged):
    me = browser(engaged)
    interview = services.interview_start(
        participant=engaged, question=study.questions.create(title="more", text="And this?")
    )

    chat_page = me.get(interview.get_absolute_url()).content.decode()
    confirm_page = me.get(url("withdraw", slug=study.slug)).content.decode()
    decline(me, study)

    assert url("withdraw", slug=study.slug) in chat_page
    assert "we delete everything you gave us" in confirm_page
    engaged.refresh_from_db()
    assert engaged.withdrawn_at is not None and not Interview.objects.exists()
