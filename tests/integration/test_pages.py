"""Participant pages through the Django test client: consent to thank-you, and who sees what."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from elicitation import access, services
from elicitation.models import Interview, Message, Participant, Study, ValuesCard
from tests.conftest import participant_cookie

XSS = "<script>alert(1)</script>"
PROLIFIC = {"PROLIFIC_PID": "pid-123", "STUDY_ID": "study-9", "SESSION_ID": "session-7"}
GOOD_CARD = {
    "title": "Finding Her Own Footing",
    "description": "Helping someone hear what they already feel about their choice.",
    "context": "when the user is facing a hard personal decision",
    "policies": "FEELINGS that point to what she wants\n- MOMENTS of quiet clarity\n"
    "OPPORTUNITIES to speak her reasons aloud\n",
}


def url(name: str, **kwargs) -> str:
    return reverse(f"elicitation:{name}", kwargs=kwargs)


def client_for(participant: Participant, **kwargs) -> Client:
    client = Client(**kwargs)
    client.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)
    return client


def draft_card(interview: Interview, **fields) -> ValuesCard:
    values = {
        "title": "Grounded Personal Discernment",
        "description": "Staying close to what she feels.",
        "policies": ["FEELINGS of unease", "MOMENTS of clarity", "OPPORTUNITIES to reflect"],
        "context": "When the user is facing a hard personal decision",
    }
    return services.card_draft_save(interview=interview, **{**values, **fields})


@pytest.fixture
def interview(participant, question) -> Interview:
    return services.interview_start(participant=participant, question=question)


def chatted(interview: Interview, messages: int = 2) -> Interview:
    """The participant's own messages, enough for the study to count the interview's card."""
    for n in range(messages):
        services.interview_message_add(interview=interview, client_id=f"m{n}", content="I see.")
    return interview


@pytest.fixture
def me(participant) -> Client:
    return client_for(participant)


# --- Landing and consent ---


def test_landing_shows_the_consent_text_and_keeps_the_prolific_ids(client, study):
    response = client.get(url("landing", slug=study.slug), PROLIFIC)

    assert response.status_code == 200
    assert "We store what you write for research." in response.content.decode()
    assert 'name="PROLIFIC_PID" value="pid-123"' in response.content.decode()
    assert 'name="SESSION_ID" value="session-7"' in response.content.decode()


def test_agreeing_records_the_prolific_ids_and_sets_a_signed_cookie(client, study):
    response = client.post(url("landing", slug=study.slug), {**PROLIFIC, "decision": "agree"})

    participant = Participant.objects.get(study=study)
    assert participant.consented_at is not None
    assert (participant.prolific_pid, participant.prolific_study_id) == ("pid-123", "study-9")
    assert participant.prolific_session_id == "session-7"
    cookie = response.cookies[settings.MGE_PARTICIPANT_COOKIE]
    assert cookie.value != participant.token
    assert access.participant_from_cookie_value(cookie.value) == participant
    assert cookie["httponly"]
    assert response["Location"] == url("demographics", slug=study.slug)


def test_a_tampered_cookie_is_not_a_participant(client, study, participant):
    client.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant.token

    response = client.get(url("start", slug=study.slug))

    assert response["Location"] == url("landing", slug=study.slug)


def test_a_returning_participant_skips_consent_to_where_they_were(me, study, interview):
    response = me.get(url("landing", slug=study.slug), follow=True)

    assert response.redirect_chain[-1][0] == url("interview", pk=interview.pk)


def test_a_link_for_another_prolific_participant_does_not_resume_the_cookie_one(
    me, study, participant, interview
):
    page = me.get(url("landing", slug=study.slug), PROLIFIC)
    me.post(url("landing", slug=study.slug), {**PROLIFIC, "decision": "agree"})

    assert "Before you start" in page.content.decode()
    newcomer = Participant.objects.get(prolific_pid="pid-123")
    assert newcomer != participant and newcomer.consented_at is not None


def test_declining_ends_politely(client, study):
    response = client.post(url("landing", slug=study.slug), {"decision": "decline"}, follow=True)

    assert "You chose not to take part" in response.content.decode()
    assert "return</strong> this study" not in response.content.decode()
    participant = Participant.objects.get(study=study)
    assert participant.declined_at is not None and participant.consented_at is None


def test_a_recruited_participant_who_declines_is_told_to_return_the_study(client, study):
    data = {**PROLIFIC, "decision": "decline"}
    response = client.post(url("landing", slug=study.slug), data, follow=True)

    assert "go back to Prolific and <strong>return</strong> this study" in response.content.decode()


def test_a_draft_study_is_not_open(client, study):
    study.state = Study.State.DRAFT
    study.save()

    response = client.get(url("landing", slug=study.slug))
    posted = client.post(url("landing", slug=study.slug), {"decision": "agree"})

    assert "This study is not open" in response.content.decode()
    assert "This study is not open" in posted.content.decode()
    assert not Participant.objects.exists()


def test_an_unknown_study_is_not_found(client, db):
    assert client.get(url("landing", slug="nope")).status_code == 404


# --- Demographics ---


def test_demographics_are_saved(me, study, participant):
    answers = {"age_range": "25-34", "political_affiliation": "Independent", "country": "Chile"}

    response = me.post(url("demographics", slug=study.slug), answers)

    assert response["Location"] == url("start", slug=study.slug)
    participant.refresh_from_db()
    assert participant.demographics == answers


def test_demographics_can_be_skipped(me, study, participant):
    data = {"age_range": "25-34", "skip": "1"}

    response = me.post(url("demographics", slug=study.slug), data)

    assert response["Location"] == url("start", slug=study.slug)
    participant.refresh_from_db()
    assert participant.demographics == {}


def test_demographics_are_not_asked_when_the_study_does_not_want_them(me, study):
    study.ask_demographics = False
    study.save()

    response = me.get(url("demographics", slug=study.slug))

    assert response["Location"] == url("start", slug=study.slug)


def test_demographics_offer_the_political_choices(me, study):
    page = me.get(url("demographics", slug=study.slug)).content.decode()

    for choice in ("Democrat", "Republican", "Independent", "Other", "Prefer not to say"):
        assert f'value="{choice}"' in page


# --- Start and interview ---


def test_start_opens_one_interview_with_the_opening_message(me, study, participant, question):
    first = me.get(url("start", slug=study.slug))
    second = me.get(url("start", slug=study.slug))

    interview = Interview.objects.get(participant=participant)
    assert first["Location"] == second["Location"] == url("interview", pk=interview.pk)
    opening = interview.messages.get()
    assert opening.role == Message.Role.ASSISTANT
    assert question.text in opening.content


def test_start_needs_consent(client, study):
    response = client.get(url("start", slug=study.slug))

    assert response["Location"] == url("landing", slug=study.slug)
    assert not Interview.objects.exists()


def test_the_interview_page_shows_the_transcript_before_any_script_runs(me, interview):
    services.interview_message_add(interview=interview, client_id="c1", content="My sister once")

    page = me.get(url("interview", pk=interview.pk)).content.decode()

    assert "Imagine someone sends this message" in page
    assert "My sister once" in page
    assert f'data-ws-path="/ws/interview/{interview.pk}/"' in page
    assert f'maxlength="{settings.MGE_MESSAGE_MAX_CHARS}"' in page
    assert "Prefer a form?" in page


def test_a_fallen_back_interview_points_to_the_guided_form(me, interview):
    services.interview_fall_back(interview=interview)

    page = me.get(url("interview", pk=interview.pk)).content.decode()

    assert 'id="fallback-notice"' in page and 'id="fallback-notice" hidden' not in page
    assert 'id="composer"' not in page


@pytest.mark.parametrize("page", ["interview", "card", "guided"])
def test_another_participant_cannot_open_my_pages(page, interview, other_participant):
    draft_card(interview)
    mine, theirs = client_for(interview.participant), client_for(other_participant)

    assert mine.get(url(page, pk=interview.pk)).status_code == 200
    assert theirs.get(url(page, pk=interview.pk)).status_code == 404
    assert theirs.post(url(page, pk=interview.pk), GOOD_CARD).status_code == 404
    assert Client().get(url(page, pk=interview.pk)).status_code == 404


# --- Card review ---


def test_card_text_is_escaped_on_every_page(me, study, interview):
    services.interview_message_add(interview=interview, client_id="c1", content=XSS)
    chatted(interview)
    card = draft_card(
        interview,
        title=XSS,
        description=f"{XSS} is what matters here, always.",
        policies=[XSS, f"MOMENTS {XSS}", f"CHOICES {XSS}"],
        context=XSS,
    )
    services.card_confirm(card=card)

    pages = [
        me.get(url("card", pk=interview.pk)),
        me.get(url("interview", pk=interview.pk)),
        me.get(url("done", slug=study.slug)),
    ]

    for response in pages:
        html = response.content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_card_page_shows_every_field_for_editing(me, interview):
    draft_card(interview)

    page = me.get(url("card", pk=interview.pk)).content.decode()

    assert "Grounded Personal Discernment" in page
    assert "<li>MOMENTS of clarity</li>" in page
    assert "FEELINGS of unease\nMOMENTS of clarity\nOPPORTUNITIES to reflect</textarea>" in page
    assert "When the user is facing a hard personal decision</textarea>" in page


def test_the_card_page_waits_for_a_card(me, interview):
    response = me.get(url("card", pk=interview.pk))

    assert response["Location"] == url("interview", pk=interview.pk)


def test_editing_a_card_keeps_its_history(me, interview):
    card = draft_card(interview)

    response = me.post(url("card", pk=interview.pk), {**GOOD_CARD, "save": "1"}, follow=True)

    card.refresh_from_db()
    assert card.title == "Finding Her Own Footing"
    assert card.policies[1] == "MOMENTS of quiet clarity"
    assert card.context.name == "When the user is facing a hard personal decision"
    assert card.status == ValuesCard.Status.DRAFT
    assert [entry["title"] for entry in card.history] == ["Grounded Personal Discernment"]
    assert card.history[0]["changed_by"] == "participant"
    assert "Your changes are saved." in response.content.decode()


def test_an_invalid_edit_shows_the_problems_and_changes_nothing(me, interview):
    card = draft_card(interview)
    data = {**GOOD_CARD, "policies": "only one", "context": "Always", "confirm": "1"}

    response = me.post(url("card", pk=interview.pk), data)

    html = response.content.decode()
    assert "There are 1 distinct policies; give 3 to 8." in html
    assert "must start with &#x27;When&#x27;" in html
    card.refresh_from_db()
    assert card.title == "Grounded Personal Discernment" and card.history == []
    assert card.status == ValuesCard.Status.DRAFT


def test_confirming_the_card_completes_the_interview(me, study, interview, participant):
    card = draft_card(chatted(interview))

    response = me.post(url("card", pk=interview.pk), {**GOOD_CARD, "confirm": "1"}, follow=True)

    card.refresh_from_db()
    interview.refresh_from_db()
    participant.refresh_from_db()
    assert card.status == ValuesCard.Status.CONFIRMED
    assert card.title == "Finding Her Own Footing"
    assert interview.status == Interview.Status.COMPLETED
    assert response.redirect_chain[-1][0] == url("done", slug=study.slug)
    assert "Thank you!" in response.content.decode()
    assert "Finding Her Own Footing" in response.content.decode()
    assert participant.completed_at is not None


def test_a_confirmed_card_cannot_be_edited(me, interview):
    card = services.card_confirm(card=draft_card(interview))

    me.post(url("card", pk=interview.pk), {**GOOD_CARD, "save": "1"})

    card.refresh_from_db()
    assert card.title == "Grounded Personal Discernment"


def test_a_prolific_participant_is_sent_to_the_completion_url(study, interview, participant):
    participant.prolific_pid = "pid-123"
    participant.save()
    services.card_confirm(card=draft_card(chatted(interview)))

    response = client_for(participant).get(url("done", slug=study.slug))

    assert response.status_code == 302
    assert response["Location"] == study.completion_url


def test_the_completion_code_is_added_when_the_url_lacks_one(study, interview, participant):
    participant.prolific_pid = "pid-123"
    participant.save()
    study.completion_url = "https://app.prolific.example/submissions/complete"
    study.completion_code = "C0DE"
    study.save()
    services.card_confirm(card=draft_card(chatted(interview)))

    response = client_for(participant).get(url("done", slug=study.slug))

    assert response["Location"] == "https://app.prolific.example/submissions/complete?cc=C0DE"


def test_the_thank_you_page_needs_a_confirmed_card(me, study, interview, participant):
    draft_card(chatted(interview))

    response = me.get(url("done", slug=study.slug))

    assert response.status_code == 403
    assert "Please finish your values card" in response.content.decode()
    participant.refresh_from_db()
    assert participant.completed_at is None


# --- Guided form ---


def test_the_guided_form_yields_a_draft_card(me, interview):
    services.interview_fall_back(interview=interview)
    page = me.get(url("guided", pk=interview.pk)).content.decode()

    response = me.post(url("guided", pk=interview.pk), GOOD_CARD)

    assert "isn’t available right now" in page
    assert response["Location"] == url("card", pk=interview.pk)
    card = ValuesCard.objects.get(interview=interview)
    assert card.source == ValuesCard.Source.GUIDED
    assert card.status == ValuesCard.Status.DRAFT
    assert card.policies == [
        "FEELINGS that point to what she wants",
        "MOMENTS of quiet clarity",
        "OPPORTUNITIES to speak her reasons aloud",
    ]


def test_the_guided_form_shows_the_problems(me, interview):
    data = {**GOOD_CARD, "title": "Self", "description": ""}

    response = me.post(url("guided", pk=interview.pk), data)

    html = response.content.decode()
    assert "This field is required." in html
    assert not ValuesCard.objects.exists()
    response = me.post(url("guided", pk=interview.pk), {**GOOD_CARD, "title": "Self"})
    assert "The title has 1 words; use 3 to 5 words." in response.content.decode()
    assert not ValuesCard.objects.exists()


# --- CSRF ---


@pytest.mark.parametrize("page", ["card", "guided"])
def test_a_post_without_a_csrf_token_is_rejected(page, participant, interview):
    card = draft_card(interview)
    strict = client_for(participant, enforce_csrf_checks=True)

    response = strict.post(url(page, pk=interview.pk), {**GOOD_CARD, "confirm": "1"})

    assert response.status_code == 403
    card.refresh_from_db()
    assert card.status == ValuesCard.Status.DRAFT and card.history == []


def test_consent_without_a_csrf_token_is_rejected(study):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(url("landing", slug=study.slug), {"decision": "agree"})

    assert response.status_code == 403
    assert not Participant.objects.exists()


def test_every_form_carries_a_csrf_token(me, study, interview):
    draft_card(interview)
    pages = [
        url("demographics", slug=study.slug),
        url("card", pk=interview.pk),
        url("guided", pk=interview.pk),
    ]

    for page in pages:
        assert 'name="csrfmiddlewaretoken"' in me.get(page).content.decode()
    assert (
        'name="csrfmiddlewaretoken"'
        in Client().get(url("landing", slug=study.slug)).content.decode()
    )


def test_the_interview_page_costs_a_fixed_number_of_queries(
    me, interview, django_assert_num_queries
):
    for n in range(20):
        services.interview_message_add(interview=interview, client_id=f"c{n}", content="more")
    draft_card(interview)

    with django_assert_num_queries(4):
        me.get(url("interview", pk=interview.pk))
