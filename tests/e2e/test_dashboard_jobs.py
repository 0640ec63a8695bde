"""An organizer starts a job in a real browser; it runs on a thread of the server (no broker)
and its page follows it to the end over the live socket."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_dashboard_live import log_in, organizer_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.e2e


def test_building_the_graph_from_the_jobs_page_runs_to_done(organizer_page):  # noqa: F811
    log_in(organizer_page, "/dashboard/s/demo/jobs/")
    expect(organizer_page.locator("[data-live-socket]")).to_have_attribute("data-connected", "true")

    organizer_page.get_by_role("button", name="Build").click()

    state = organizer_page.locator("h1 [data-job-state]")
    expect(state).to_have_text("done", timeout=30_000)
    expect(organizer_page.locator("[data-reload-when-finished]")).to_have_count(0)  # rebuilt
    finished = organizer_page.get_by_role("row", name="Finished").get_by_role("cell")
    expect(finished).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d "))
    expect(organizer_page.get_by_role("link", name="Reports").last).to_be_visible()
    organizer_page.get_by_role("link", name="Reports").last.click()
    expect(organizer_page.get_by_role("heading", name="Reliability and bridging")).to_be_visible()
    expect(organizer_page.get_by_text("Publishing gate")).to_be_visible()
