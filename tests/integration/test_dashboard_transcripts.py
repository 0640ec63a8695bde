"""The dashboard's transcripts: the list of a study's interviews and each interview in full."""

import json

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from dashboard.selectors import participant_short_id
from elicitation import services
from elicitation.models import Interview, LLMCall, Participant, Question, Study
from tests.conftest import participant_cookie

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CARD = {
    "title": "Finding Her Own Footing",
    "description": "Helping someone hear what they already feel.",
    "policies": ["FEELINGS that point to what she wants", "MOMENTS of quiet clarity"],
    "context": "When the user is facing a hard personal decision",
}


def url(name: str, **kwargs) -> str:
    return reverse(f"dashboard:{name}", kwargs=kwargs)


def tool_call(arguments: str) -> dict:
    function = {"name": "submit_values_card", "arguments": arguments}
    return {"id": "call_1", "type": "function", "function": function}


@pytest.fixture
def interview(study, question, participant) -> Interview:
    """A finished interview: a question, a cut-off reply, a proposed card revised once."""
    Participant.objects.filter(pk=participant.pk).update(
        prolific_pid="PROLIFIC-PID-42", demographics={"age_range": "25-34", "country": "Norway"}
    )
    interview = services.interview_start(participant=participant, question=question)
    services.interview_message_add(interview=interview, client_id="c1", content="I feel torn.")
    services.interview_reply_save(interview=interview, content="What feels", complete=False)
    services.interview_reply_save(
        interview=interview, content="Here is a card.", tool_calls=[tool_call(json.dumps(CARD))]
    )
    services.interview_tool_result_save(interview=interview, tool_call_id="call_1", content="ok")
    services.card_draft_save(interview=interview, **{**CARD, "title": "First Draft Title"})
    services.card_draft_save(interview=interview, **CARD, changed_by="participant")
    LLMCall.objects.create(
        study=study,
        interview=interview,
        purpose="interview",
        model="gpt-test",
        prompt_name="interviewer",
        prompt_version="v-abc123",
        tokens_in=321,
        tokens_out=54,
        latency_ms=987,
        error="Timed out after 30 s",
    )
    return interview


def interviews_for(study: Study, count: int, status: str = Interview.Status.ACTIVE) -> None:
    question = study.questions.first()
    for _ in range(count):
        participant = Participant.objects.create(study=study)
        Interview.objects.create(participant=participant, question=question, status=status)


# --- who may see it ---


def test_transcripts_send_anyone_but_staff_to_the_login_page(
    study, participant, interview, django_user_model
):
    member = django_user_model.objects.create_user(username="member", password="a-long-password")
    logged_in, with_cookie = Client(), Client()
    logged_in.force_login(member)
    with_cookie.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)
    pages = [
        url("transcripts", slug=study.slug),
        url("transcript", slug=study.slug, pk=interview.pk),
    ]

    for visitor in (Client(), logged_in, with_cookie):
        for page in pages:
            response = visitor.get(page)
            assert response.status_code == 302
            assert response["Location"].startswith(settings.LOGIN_URL)


# --- the list ---


def test_the_list_shows_each_interview_without_revealing_who_the_participant_is(
    staff, study, interview, participant
):
    page = staff.get(url("transcripts", slug=study.slug)).content.decode()

    assert participant_short_id(participant.pk) in page
    assert participant.token not in page and "PROLIFIC-PID-42" not in page
    assert "abortion" in page and "Card proposed" in page
    assert "Finding Her Own Footing" in page and "(draft)" in page
    assert '<td class="num">4</td>' in page  # greeting, the participant's words, two replies
    assert url("transcript", slug=study.slug, pk=interview.pk) in page


def test_the_list_filters_by_status_and_question(staff, study, interview):
    other = Question.objects.create(study=study, title="parenting", text="How strict?")
    Interview.objects.create(
        participant=Participant.objects.create(study=study),
        question=other,
        status=Interview.Status.COMPLETED,
    )
    page = url("transcripts", slug=study.slug)

    def shown(query: dict) -> int:
        return len(staff.get(page, query).context["rows"])

    assert shown({}) == 2
    assert shown({"status": "completed"}) == 1
    assert shown({"status": "card_proposed", "question": other.pk}) == 0
    assert shown({"question": interview.question_id}) == 1
    assert shown({"status": "no-such-status"}) == 2  # an unknown filter filters nothing


def test_the_list_shows_fifty_interviews_a_page_and_keeps_the_filter(staff, study):
    interviews_for(study, 51, Interview.Status.GUIDED)
    interviews_for(study, 2)
    page = url("transcripts", slug=study.slug)

    first = staff.get(page, {"status": "guided"})
    second = staff.get(page, {"status": "guided", "page": 2})

    assert len(first.context["rows"]) == 50 and len(second.context["rows"]) == 1
    assert "?status=guided&amp;page=2" in first.content.decode()


def test_the_list_costs_the_same_few_queries_however_many_interviews(
    staff, study, interview, django_assert_max_num_queries
):
    interviews_for(study, 60)

    with django_assert_max_num_queries(6):
        response = staff.get(url("transcripts", slug=study.slug))

    assert len(response.context["rows"]) == 50


def test_a_transcript_costs_the_same_few_queries_however_long(
    staff, study, interview, django_assert_max_num_queries
):
    for number in range(30):
        services.interview_reply_save(
            interview=interview, content=f"Reply {number}", tool_calls=[tool_call("{}")]
        )

    with django_assert_max_num_queries(7):
        response = staff.get(url("transcript", slug=study.slug, pk=interview.pk))

    assert "Reply 29" in response.content.decode()


def test_the_list_of_another_study_does_not_show_this_ones_interviews(staff, study, interview):
    other = Study.objects.create(slug="other", title="Other")

    response = staff.get(url("transcripts", slug=other.slug))

    assert response.context["rows"] == [] and "No interviews" in response.content.decode()


# --- one interview ---


def test_a_transcript_shows_the_messages_the_proposed_card_and_the_cards_history(
    staff, study, interview
):
    page = staff.get(url("transcript", slug=study.slug, pk=interview.pk)).content.decode()

    said = [page.index(text) for text in ("I feel torn.", "What feels", "Here is a card.")]
    assert said == sorted(said)
    assert "Incomplete: this reply was cut off." in page
    assert "submit_values_card" in page and "MOMENTS of quiet clarity" in page
    assert "ok</div>" not in page  # tool results are not part of the conversation
    assert "Edit history" in page and "First Draft Title" in page
    assert "replaced by participant" in page


def test_a_transcript_shows_the_llm_calls_and_the_demographics(staff, study, interview):
    page = staff.get(url("transcript", slug=study.slug, pk=interview.pk)).content.decode()

    for shown in ("gpt-test", "v-abc123", "321", "54", "987", "Timed out after 30 s"):
        assert shown in page
    assert "age_range" in page and "25-34" in page and "Norway" in page
    assert "PROLIFIC-PID-42" not in page


def test_a_tool_call_that_is_not_json_is_shown_as_it_came(staff, study, interview):
    services.interview_reply_save(interview=interview, content="", tool_calls=[tool_call("{oops")])

    page = staff.get(url("transcript", slug=study.slug, pk=interview.pk)).content.decode()

    assert '<pre class="raw">{oops</pre>' in page


def test_an_interview_of_another_study_is_not_found(staff, interview):
    other = Study.objects.create(slug="other", title="Other")

    response = staff.get(url("transcript", slug=other.slug, pk=interview.pk))

    assert response.status_code == 404


def test_participant_text_in_a_transcript_is_escaped(staff, study, interview):
    services.interview_message_add(interview=interview, client_id="c2", content=XSS)
    services.interview_reply_save(
        interview=interview,
        content="Another card.",
        tool_calls=[tool_call(json.dumps({**CARD, "title": XSS, "policies": [XSS]}))],
    )
    services.card_draft_save(interview=interview, **{**CARD, "title": XSS})

    detail = staff.get(url("transcript", slug=study.slug, pk=interview.pk)).content.decode()
    listing = staff.get(url("transcripts", slug=study.slug)).content.decode()

    for page in (detail, listing):
        assert XSS not in page and ESCAPED in page
