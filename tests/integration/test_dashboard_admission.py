"""The organizer's admission settings: the mode in Settings, invite links, PID release."""

from django.urls import reverse

from elicitation.models import Invite, Study
from tests.integration.test_dashboard_studies import existing_rows, questions_data, study_data


def settings_post(staff, study: Study, **fields):
    data = {**study_data(), **questions_data(existing_rows(study), initial=1), **fields}
    data.pop("slug")
    return staff.post(reverse("dashboard:study_edit", kwargs={"slug": study.slug}), data)


def test_the_organizer_chooses_prolific_only_with_its_study_id(staff, study):
    response = settings_post(
        staff,
        study,
        admission="prolific",
        prolific_study_id="abc123",
        completion_min_messages="3",
        completion_min_votes="4",
    )

    study.refresh_from_db()
    assert response.status_code == 302
    assert (study.admission, study.prolific_study_id) == ("prolific", "abc123")
    assert (study.completion_min_messages, study.completion_min_votes) == (3, 4)


def test_prolific_only_without_a_study_id_is_refused(staff, study):
    response = settings_post(staff, study, admission="prolific", prolific_study_id="")

    assert "Prolific-only studies need Prolific" in response.content.decode()
    study.refresh_from_db()
    assert study.admission == Study.Admission.OPEN_LINK


def test_the_admission_page_counts_invites_and_refuses_a_silly_number(staff, study):
    page_url = reverse("dashboard:admission", kwargs={"slug": study.slug})
    make = reverse("dashboard:invites_create", kwargs={"slug": study.slug})
    staff.post(make, {"count": "2"})
    staff.post(make, {"count": "100000"})

    page = staff.get(page_url).content.decode()

    assert Invite.objects.count() == 2
    assert "0 of 2 invites used" in page


def test_only_staff_reach_the_admission_pages(client, study):
    for name in ("admission", "invites_csv"):
        response = client.get(reverse(f"dashboard:{name}", kwargs={"slug": study.slug}))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
