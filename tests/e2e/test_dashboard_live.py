"""An organizer in a real browser: logs in, watches a study's numbers change as people arrive."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def organizer_page(browser, app_server):
    context = browser.new_context(viewport=DESKTOP, base_url=app_server["url"])
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, next_path: str) -> None:
    page.goto(next_path)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()  # sent to the login page
    page.fill("#id_username", "organizer")
    page.fill("#id_password", "e2e-organizer-pw")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))


def test_the_overview_updates_live_when_a_participant_consents(organizer_page, page):
    log_in(organizer_page, "/dashboard/s/demo/")
    status = organizer_page.locator("[data-live-socket]")
    expect(status).to_have_attribute("data-connected", "true")
    consented = organizer_page.locator('[data-live="participants.consented"]')
    before = int(consented.inner_text())

    page.goto("/s/demo/")
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("heading", name="A little about you")).to_be_visible()

    expect(consented).to_have_text(str(before + 1), timeout=10_000)
    organizer_page.screenshot(path=ARTIFACTS / "dashboard_overview.png", full_page=True)
