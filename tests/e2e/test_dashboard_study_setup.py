"""An organizer sets up a study in a real browser and a participant can join it at once."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_dashboard_live import log_in, organizer_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_a_study_created_and_opened_in_the_dashboard_takes_participants(
    organizer_page,  # noqa: F811
    page,
):
    log_in(organizer_page, "/dashboard/studies/new/")
    organizer_page.locator("#id_slug").fill("pilot-e2e")
    organizer_page.locator("#id_title").fill("Pilot <b>study</b>")
    organizer_page.locator("#id_consent_text").fill("We keep what you write for research.")
    organizer_page.locator("#id_questions-0-title").fill("grief")
    organizer_page.locator("#id_questions-0-text").fill("My dog died today. What should I do?")
    organizer_page.get_by_role("button", name="Create study").click()

    expect(organizer_page).to_have_url(re.compile(r"/dashboard/s/pilot-e2e/settings/$"))
    expect(organizer_page.get_by_text("Draft", exact=True)).to_be_visible()
    organizer_page.get_by_role("button", name="Open the study").click()
    expect(organizer_page.locator(".study-state .state")).to_have_text("Open")

    organizer_page.get_by_role("link", name="Overview").click()
    invite = organizer_page.locator("#invite-link").input_value()
    assert invite.endswith("/s/pilot-e2e/")

    page.goto(invite)
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    expect(page.get_by_text("We keep what you write for research.")).to_be_visible()
    expect(page.get_by_text("Pilot <b>study</b>").first).to_be_visible()  # escaped, not bold
