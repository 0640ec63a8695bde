"""An organizer in a real browser compares two builds of a study: a new value that voters
found wiser than the old winner shows as an added value, a new edge and a changed winner."""

import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT
from tests.e2e.test_dashboard_graph import log_in_as_organizer

pytestmark = pytest.mark.e2e

SLUG = "compare-e2e"
# Runs inside `manage.py shell` against the app server's database; prints the new value's id.
SEED = f"""
from elicitation import services
from elicitation.models import Context, Study, WisdomVote
from moralgraph.core import Config
from moralgraph.models import CanonicalValue, UpgradeHypothesis
from moralgraph.services import graph_build

study = Study.objects.create(slug={SLUG!r}, title="Compare study", state="open")
grief = Context.objects.create(study=study, name="When the user is grieving")

def value(title):
    return CanonicalValue.objects.create(study=study, title=title, description="d")

def votes(source, target, n):
    hypothesis = UpgradeHypothesis.objects.create(
        study=study, context=grief, from_value=source, to_value=target)
    for _ in range(n):
        voter = services.participant_start(study=study)
        WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer="wiser")

plain, deep = value("Plain facts"), value("Depth of feeling")
votes(plain, deep, 4)
graph_build(study=study, config=Config(bootstrap_samples=20))
quiet = value("Quiet company")
votes(deep, quiet, 4)
graph_build(study=study, config=Config(bootstrap_samples=20))
print(quiet.pk)
"""


@pytest.fixture(scope="module")
def newer_value(app_server) -> str:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{app_server['db']}",
    }
    manage = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", SEED]
    done = subprocess.run(manage, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def test_an_organizer_compares_the_two_builds_of_a_study(page, newer_value):
    log_in_as_organizer(page, f"/dashboard/s/{SLUG}/reports/")
    page.get_by_role("link", name="Compare builds").click()
    expect(page.get_by_role("heading", name="Compare builds")).to_be_visible()
    page.get_by_role("button", name="Compare").click()

    totals = page.locator("#compare-totals")
    expect(totals.get_by_role("row", name="Values added")).to_contain_text("1")
    expect(totals.get_by_role("row", name="Edges that appeared")).to_contain_text("1")
    expect(totals.get_by_role("row", name="Winners that changed")).to_contain_text("1")
    change = page.locator(".context-change")
    expect(change).to_contain_text(f"Values added: {newer_value}")
    expect(change).to_contain_text("(changed)")
