"""An organizer in a real browser: log in, open a study's graph, pick a value with the mouse and
with the keyboard, and see a card titled with a script tag shown as text, never run."""

import os
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.e2e

SLUG = "graph-e2e"
XSS = "<script>alert(1)</script>"
# Runs inside `manage.py shell` against the app server's database; prints the context id.
SEED = f"""
from elicitation import services
from elicitation.models import Context, Study, ValuesCard, WisdomVote
from moralgraph.core import Config
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis
from moralgraph.services import graph_build

study = Study.objects.create(slug={SLUG!r}, title="Graph view study", state="open")
grief = Context.objects.create(study=study, name="When the user is grieving")
authors = [services.participant_start(study=study) for _ in range(2)]
values = []
for title in ("Plain facts", {XSS!r}, "Depth of feeling"):
    value = CanonicalValue.objects.create(
        study=study, title=title, description="What " + title + " attends to.",
        policies=["MOMENTS of " + title, "CHOICES that feel alive"])
    for author in authors:
        card = ValuesCard.objects.create(
            study=study, participant=author, title=title + " (card)", description="d",
            context=grief, status=ValuesCard.Status.CONFIRMED)
        CardLink.objects.create(card=card, value=value, method=CardLink.Method.NEW)
    values.append(value)
voters = [services.participant_start(study=study) for _ in range(5)]
for source, target in ((values[0], values[1]), (values[1], values[2])):
    hypothesis = UpgradeHypothesis.objects.create(
        study=study, context=grief, from_value=source, to_value=target)
    for number, voter in enumerate(voters):
        answer = "unsure" if number == 4 else "wiser"
        WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer=answer)
graph_build(study=study, config=Config(bootstrap_samples=20))
print(grief.pk)
"""


@pytest.fixture(scope="module")
def graph_url(app_server) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{app_server['db']}",
    }
    manage = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SEED]
    done = subprocess.run(manage, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    context_id = done.stdout.strip().splitlines()[-1]
    return f"/dashboard/s/{SLUG}/graph/?context={context_id}"


def log_in_as_organizer(page, next_url: str) -> None:
    page.goto(f"/admin/login/?next={next_url.replace('?', '%3F').replace('=', '%3D')}")
    page.locator("#id_username").fill("organizer")
    page.locator("#id_password").fill("e2e-organizer-pw")
    page.locator("input[type=submit]").click()


def test_an_organizer_opens_a_value_from_the_graph_and_titles_stay_text(page, graph_url):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in_as_organizer(page, graph_url)
    expect(page.get_by_role("heading", name="Moral graph")).to_be_visible()
    nodes = page.locator("#graph-canvas svg .graph-node")
    expect(nodes).to_have_count(3)

    page.get_by_role("button", name=re.compile(r"^Depth of feeling, score")).click()
    panel = page.locator("#graph-panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text("Depth of feeling")
    expect(panel).to_contain_text("2 confirmed cards from 2 participants.")
    expect(panel).to_contain_text("4 wiser, 0 not wiser, 0 less wise, 1 unsure (5 votes).")

    script_node = page.get_by_role("button", name=f"{XSS}, score")
    script_node.focus()
    page.keyboard.press("Enter")
    expect(panel.get_by_role("heading", level=2)).to_have_text(XSS)
    expect(script_node.locator("text")).to_have_text(re.compile(r"^<script>alert\(1\)"))
    assert script_node.locator("title").text_content() == XSS
    expect(panel).to_contain_text(f"{XSS} (card)")
    assert dialogs == []

    box = page.locator("#graph-canvas svg").bounding_box()
    assert box is not None and box["width"] <= page.viewport_size["width"]
    page.screenshot(path=ARTIFACTS / "dashboard_graph_phone.png", full_page=True)


def test_the_layout_is_the_same_on_every_visit(page, graph_url):
    log_in_as_organizer(page, graph_url)
    expect(page.locator("#graph-canvas svg .graph-node")).to_have_count(3)
    first = page.locator("#graph-canvas svg").inner_html()
    page.reload()
    expect(page.locator("#graph-canvas svg .graph-node")).to_have_count(3)
    assert page.locator("#graph-canvas svg").inner_html() == first
