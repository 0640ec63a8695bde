"""Attack class 3: a completion code for no work (a made-up PID, a guided card of dots and
single letters, then /done/). The code and the redirect now come only when the server counts
the work as done: a card with substance from a real conversation, and the votes asked for."""

import pytest

from elicitation import services
from elicitation.models import LLMCall, Participant, ValuesCard
from tests.security.support import (
    JUNK_CARD_FORM,
    REAL_CARD,
    browser,
    card_form,
    chat,
    confirmed_interview_card,
    hypotheses,
    url,
)

CODE = "ABC123"


@pytest.fixture
def recruited(study) -> Participant:
    """A participant who came in with a made-up Prolific PID."""
    participant = services.participant_start(study=study, recruitment={"PROLIFIC_PID": "made-up"})
    return services.participant_consent(participant=participant, agreed=True)


def assert_no_code(response, participant: Participant) -> None:
    assert response.status_code == 403
    assert CODE not in response.content.decode() and "Location" not in response
    participant.refresh_from_db()
    assert participant.completed_at is None


def test_a_junk_guided_card_is_refused_and_earns_no_completion(study, question, recruited):
    attacker = browser(recruited)
    interview = services.interview_start(participant=recruited, question=question)

    saved = attacker.post(url("guided", pk=interview.pk), JUNK_CARD_FORM)
    confirmed = attacker.post(url("card", pk=interview.pk), {**JUNK_CARD_FORM, "confirm": "1"})
    done = attacker.get(url("done", slug=study.slug))

    assert saved.status_code == 302
    page = confirmed.content.decode()
    assert "Please give your value a real name" in page
    assert "Please describe your value in a sentence or more" in page
    assert "at least 3 things to attend to" in page
    assert ValuesCard.objects.get(interview=interview).status == ValuesCard.Status.DRAFT
    assert_no_code(done, recruited)


def test_a_real_guided_card_without_any_chat_earns_no_completion(study, question, recruited):
    attacker = browser(recruited)
    interview = services.interview_start(participant=recruited, question=question)
    attacker.post(url("guided", pk=interview.pk), card_form(REAL_CARD))
    attacker.post(url("card", pk=interview.pk), card_form(REAL_CARD, confirm="1"))

    done = attacker.get(url("done", slug=study.slug))

    assert ValuesCard.objects.get(interview=interview).status == ValuesCard.Status.CONFIRMED
    assert_no_code(done, recruited)
    assert "at least 2 messages of your own" in done.content.decode()


def test_a_guided_card_counts_when_the_interviewer_failed_the_participant(
    study, question, recruited
):
    interview = services.interview_start(participant=recruited, question=question)
    chat(interview, 1)
    LLMCall.objects.create(
        study=study, interview=interview, purpose="interview_turn", model="m", error="Timed out"
    )
    services.interview_fall_back(interview=interview)
    me = browser(recruited)
    me.post(url("guided", pk=interview.pk), card_form(REAL_CARD))
    me.post(url("card", pk=interview.pk), card_form(REAL_CARD, confirm="1"))

    done = me.get(url("done", slug=study.slug))

    assert done.status_code == 302 and done["Location"] == study.completion_url


def test_skipping_the_votes_earns_no_completion(study, question, recruited):
    confirmed_interview_card(recruited, question)
    hypotheses(study)

    done = browser(recruited).get(url("done", slug=study.slug))

    assert_no_code(done, recruited)
    assert "Please answer at least 3 comparisons (0 so far)" in done.content.decode()


def test_the_votes_the_study_asks_for_earn_the_completion(study, question, recruited):
    study.completion_min_votes = 2
    study.save()
    confirmed_interview_card(recruited, question)
    hypotheses(study)
    me = browser(recruited)
    for n in range(2):
        shown = me.get(url("vote", slug=study.slug)).context["hypothesis"]
        me.post(
            url("vote", slug=study.slug),
            {"hypothesis": shown.pk, "answer": "wiser", "client_id": f"v{n}"},
        )

    done = me.get(url("done", slug=study.slug))

    assert done.status_code == 302 and done["Location"] == study.completion_url
    recruited.refresh_from_db()
    assert recruited.completed_at is not None


def test_an_interview_card_with_fewer_messages_than_the_study_asks_earns_nothing(
    study, question, recruited
):
    study.completion_min_messages = 4
    study.save()
    confirmed_interview_card(recruited, question, messages=3)

    done = browser(recruited).get(url("done", slug=study.slug))

    assert_no_code(done, recruited)
