"""The dashboard's study settings: creating a study, editing it and its questions, opening and
closing it; staff only."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from dashboard import studies
from dashboard.studies import QuestionDraft, StudyChangeRefused
from elicitation import services
from elicitation.models import Question, Study, ValuesCard
from tests.conftest import participant_cookie

pytestmark = pytest.mark.django_db

MANAGEMENT = ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")


def url(name: str, **kwargs) -> str:
    return reverse(f"dashboard:{name}", kwargs=kwargs)


def study_data(**fields) -> dict:
    data = {
        "slug": "care-study",
        "title": "What should an AI care about?",
        "description": "",
        "consent_text": "We keep what you write.",
        "llm_model": "",
        "ask_demographics": "on",
        "completion_url": "",
        "completion_code": "",
        "token_budget": "",
        "card_button_after": "3",
        "max_participant_messages": "10",
    }
    return {**data, **fields}


def questions_data(rows: list[dict], initial: int = 0) -> dict:
    """The formset's POST data: `rows` hold title, text, order and, for saved ones, id."""
    counts = (len(rows), initial, 0, 1000)
    data = {f"questions-{key}": str(count) for key, count in zip(MANAGEMENT, counts, strict=True)}
    for number, row in enumerate(rows):
        data.update({f"questions-{number}-{name}": value for name, value in row.items()})
    return data


def existing_rows(study: Study) -> list[dict]:
    return [
        {"id": q.pk, "title": q.title, "text": q.text, "order": q.order}
        for q in study.questions.all()
    ]


@pytest.fixture
def draft(db) -> Study:
    return Study.objects.create(slug="draft-study", title="Draft")


# --- who may see it ---


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("study_create", {}),
        ("study_edit", {"slug": "abortion-study"}),
        ("study_state", {"slug": "abortion-study"}),
    ],
)
def test_settings_pages_send_anyone_but_staff_to_the_login_page(
    study, participant, django_user_model, name, kwargs
):
    member = django_user_model.objects.create_user(username="member", password="a-long-password")
    logged_in, with_cookie = Client(), Client()
    logged_in.force_login(member)
    with_cookie.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)

    for visitor in (Client(), logged_in, with_cookie):
        for response in (visitor.get(url(name, **kwargs)), visitor.post(url(name, **kwargs))):
            assert response.status_code == 302
            assert response["Location"].startswith(settings.LOGIN_URL)
    study.refresh_from_db()
    assert study.state == Study.State.OPEN


def test_changing_the_state_only_takes_a_post(staff, study):
    assert staff.get(url("study_state", slug=study.slug)).status_code == 405


def test_the_settings_form_refuses_a_post_without_its_csrf_token(organizer, study):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(organizer)

    response = browser.post(url("study_state", slug=study.slug), {"state": "closed"})

    assert response.status_code == 403
    study.refresh_from_db()
    assert study.state == Study.State.OPEN


# --- create ---


def test_creating_a_study_saves_it_as_a_draft_with_its_questions(staff):
    rows = [
        {"title": "abortion", "text": "Should I have an abortion?", "order": "1"},
        {"title": "parenting", "text": "How strict should I be?", "order": "0"},
        {"title": "", "text": "", "order": ""},
    ]

    response = staff.post(url("study_create"), {**study_data(), **questions_data(rows)})

    study = Study.objects.get(slug="care-study")
    assert response.status_code == 302
    assert response["Location"] == url("study_edit", slug="care-study")
    assert study.state == Study.State.DRAFT and study.title == "What should an AI care about?"
    assert list(study.questions.values_list("title", flat=True)) == ["parenting", "abortion"]
    page = staff.get(response["Location"]).content.decode()
    assert "Created “What should an AI care about?”" in page


def test_a_new_question_without_an_order_goes_after_the_others(staff):
    rows = [
        {"title": "first", "text": "One?", "order": "4"},
        {"title": "second", "text": "Two?", "order": ""},
    ]

    staff.post(url("study_create"), {**study_data(), **questions_data(rows)})

    orders = Question.objects.values_list("title", "order")
    assert set(orders) == {("first", 4), ("second", 5)}


def test_a_slug_already_in_use_is_refused_with_a_clear_error(staff, study):
    data = {**study_data(slug=study.slug), **questions_data([])}

    response = staff.post(url("study_create"), data)

    assert response.status_code == 200
    assert "Another study already uses the address “abortion-study”" in response.content.decode()
    assert Study.objects.count() == 1


def test_the_create_page_shows_an_empty_question_row(staff):
    page = staff.get(url("study_create")).content.decode()

    assert "New study" in page and 'name="questions-0-title"' in page
    assert 'name="questions-1-title"' not in page


# --- edit ---


def test_editing_saves_the_settings_but_never_the_slug(staff, study):
    data = {
        **study_data(slug="new-slug", title="Renamed"),
        **questions_data(existing_rows(study), 1),
    }

    response = staff.post(url("study_edit", slug=study.slug), data)

    assert response.status_code == 302
    study.refresh_from_db()
    assert (study.slug, study.title) == ("abortion-study", "Renamed")
    assert "Settings saved." in staff.get(response["Location"]).content.decode()


def test_editing_changes_reorders_and_adds_questions(staff, study, question):
    rows = [
        {**existing_rows(study)[0], "text": "Reworded?", "order": "3"},
        {"title": "parenting", "text": "How strict should I be?", "order": "1"},
    ]

    staff.post(url("study_edit", slug=study.slug), {**study_data(), **questions_data(rows, 1)})

    assert list(study.questions.values_list("title", "text")) == [
        ("parenting", "How strict should I be?"),
        ("abortion", "Reworded?"),
    ]


def test_an_unanswered_question_can_be_deleted(staff, study, question):
    rows = [{**existing_rows(study)[0], "DELETE": "on"}]

    response = staff.post(
        url("study_edit", slug=study.slug), {**study_data(), **questions_data(rows, 1)}
    )

    assert response.status_code == 302
    assert not study.questions.exists()


def test_deleting_a_question_with_interviews_is_refused_and_nothing_is_saved(
    staff, study, question, participant
):
    services.interview_start(participant=participant, question=question)
    rows = [{**existing_rows(study)[0], "DELETE": "on"}]
    data = {**study_data(title="Renamed"), **questions_data(rows, 1)}

    response = staff.post(url("study_edit", slug=study.slug), data)

    assert response.status_code == 200
    assert (
        "The question “abortion” already has 1 interview and cannot be deleted"
        in response.content.decode()
    )
    study.refresh_from_db()
    assert study.title == "What should an AI attend to?" and study.questions.get() == question


def test_a_question_holding_cards_is_never_deleted(study, question):
    ValuesCard.objects.create(study=study, question=question, title="Care", description="d")

    with pytest.raises(StudyChangeRefused, match="already has cards"):
        studies.question_delete(question=question)
    assert Question.objects.filter(pk=question.pk).exists()


def test_an_invalid_question_row_shows_its_error_and_saves_nothing(staff, study):
    rows = [*existing_rows(study), {"title": "no text", "text": "", "order": ""}]
    data = {**study_data(title="Renamed"), **questions_data(rows, 1)}

    response = staff.post(url("study_edit", slug=study.slug), data)

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    study.refresh_from_db()
    assert study.title != "Renamed" and study.questions.count() == 1


def test_the_settings_page_escapes_the_study_and_question_text(staff, study, question):
    Study.objects.filter(pk=study.pk).update(title="<script>alert(1)</script>")

    page = staff.get(url("study_edit", slug=study.slug)).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- open and close ---


@pytest.mark.parametrize(
    ("start", "button", "end"),
    [("draft", "open", "open"), ("open", "closed", "closed"), ("closed", "open", "open")],
)
def test_a_study_moves_between_states_with_its_buttons(staff, study, start, button, end):
    Study.objects.filter(pk=study.pk).update(state=start)

    response = staff.post(url("study_state", slug=study.slug), {"state": button}, follow=True)

    study.refresh_from_db()
    assert study.state == end
    assert f"is now {end}." in response.content.decode()


@pytest.mark.parametrize(
    ("state", "shown", "hidden"),
    [
        ("draft", "Open the study", "Close the study"),
        ("open", "Close the study", "Reopen the study"),
        ("closed", "Reopen the study", "Close the study"),
    ],
)
def test_the_settings_page_offers_the_moves_from_the_current_state(
    staff, study, state, shown, hidden
):
    Study.objects.filter(pk=study.pk).update(state=state)

    page = staff.get(url("study_edit", slug=study.slug)).content.decode()

    assert shown in page and hidden not in page


@pytest.mark.parametrize(("start", "asked"), [("draft", "closed"), ("open", "open"), ("open", "x")])
def test_a_move_the_state_does_not_allow_is_refused(staff, study, start, asked):
    Study.objects.filter(pk=study.pk).update(state=start)

    response = staff.post(url("study_state", slug=study.slug), {"state": asked}, follow=True)

    study.refresh_from_db()
    assert study.state == start
    assert f"The study is {start}; it cannot move to “{asked}”." in response.content.decode()


def test_a_study_without_questions_cannot_open(staff, draft):
    response = staff.post(url("study_state", slug=draft.slug), {"state": "open"}, follow=True)

    draft.refresh_from_db()
    assert draft.state == Study.State.DRAFT
    assert "Add at least one question before opening the study." in response.content.decode()


def test_a_study_with_a_question_opens(draft):
    studies.question_add(study=draft, draft=QuestionDraft(title="q", text="Why?"))

    studies.study_state_change(study=draft, state=Study.State.OPEN)

    assert Study.objects.get(pk=draft.pk).state == Study.State.OPEN
