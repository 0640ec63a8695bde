"""A participant in a real browser: consent, chat over the websocket, card review, wisdom votes,
results and completion."""

import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, COMPLETION_URL, ROOT
from tests.fakes.openai_server import INTERVIEW_QUESTIONS, SAMPLE_CARD, Error, Reply

pytestmark = pytest.mark.e2e

SLOW_REPLY = " ".join(["Thank you for sharing that, it sounds like it mattered a great deal."] * 4)


def record_frames(page) -> list[dict]:
    """Every frame the server sends on the page's websockets, in order."""
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))),
    )
    return frames


def agree_and_skip_to_chat(page, query: str = "", screenshot: str = "") -> None:
    page.goto(f"/s/demo/{query}")
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    if screenshot:
        page.screenshot(path=ARTIFACTS / screenshot, full_page=True)
    page.get_by_role("button", name="I agree").click()
    expect(page.get_by_role("heading", name="A little about you")).to_be_visible()
    page.get_by_role("button", name="Skip").click()
    expect(page).to_have_url(re.compile(r"/interview/\d+/$"))
    expect(bodies(page, "assistant").first).to_contain_text("Imagine someone sends this message")
    wait_until_connected(page)


def wait_until_connected(page) -> None:
    """The page is server-rendered first; typing before the socket's history frame races it."""
    expect(page.locator("#chat")).to_have_attribute("data-connected", "true")


def bodies(page, role: str):
    return page.locator(f"#transcript .msg--{role} .msg__body")


def say(page, text: str) -> None:
    page.locator("#message").fill(text)
    page.locator("#message").press("Enter")
    expect(bodies(page, "user").last).to_have_text(text)
    expect(page.locator("#transcript .msg--pending")).to_have_count(0)


def screenshot_chat(page, name: str) -> None:
    """What a participant sees: the bottom of the conversation, composer in place."""
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.screenshot(path=ARTIFACTS / name)


def query(db_path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(sql, params).fetchall()


def test_a_recruited_participant_goes_from_consent_to_prolific(page, app_server):
    frames = record_frames(page)
    recruited = "?PROLIFIC_PID=e2e-pid-1&STUDY_ID=e2e-study&SESSION_ID=e2e-s"
    agree_and_skip_to_chat(page, recruited, screenshot="participant_landing.png")

    say(page, "My cousin faced exactly this and talked it through with me for hours.")
    expect(bodies(page, "assistant").last).to_have_text(INTERVIEW_QUESTIONS[0])
    say(page, "I noticed how her voice changed when she spoke about what she really wanted.")
    expect(bodies(page, "assistant").last).to_have_text(INTERVIEW_QUESTIONS[1])
    say(page, "It felt important because it was hers, not what anyone expected of her.")

    notice = page.locator("#card-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(SAMPLE_CARD["title"])
    tokens = [f["text"] for f in frames if f["type"] == "token"]
    first_reply = next(f for f in frames if f["type"] == "reply_end")
    assert len(tokens) > 10, "replies should arrive token by token"
    assert "".join(tokens).startswith(first_reply["content"])
    screenshot_chat(page, "participant_journey.png")

    page.get_by_role("link", name="Review your values card").click()
    expect(page.get_by_role("heading", name="Review your values card")).to_be_visible()
    page.get_by_label("Title").fill("Finding My Own Footing")
    page.screenshot(path=ARTIFACTS / "participant_journey_card.png", full_page=True)
    page.get_by_role("button", name="Confirm this card").click()

    expect(page).to_have_url(COMPLETION_URL)
    expect(page.get_by_role("heading", name="Submission complete")).to_be_visible()
    rows = query(
        app_server["db"],
        "SELECT c.title, c.status, c.policies, p.completed_at FROM elicitation_valuescard c "
        "JOIN elicitation_participant p ON p.id = c.participant_id WHERE p.prolific_pid = ?",
        "e2e-pid-1",
    )
    assert len(rows) == 1
    title, status, policies, completed_at = rows[0]
    assert (title, status) == ("Finding My Own Footing", "confirmed")
    assert json.loads(policies) == SAMPLE_CARD["policies"]
    assert completed_at is not None


def test_reloading_mid_reply_restores_the_transcript_and_finishes_the_reply(
    page, app_server, fake_llm
):
    agree_and_skip_to_chat(page)
    say(page, "When my friend was pregnant she asked me what to do.")
    expect(bodies(page, "assistant").last).to_have_text(INTERVIEW_QUESTIONS[0])

    fake_llm.token_delay = 0.15
    try:
        fake_llm.script(Reply(SLOW_REPLY))
        say(page, "I listened first, and asked what she felt in her body.")
        expect(bodies(page, "assistant").last).to_contain_text("Thank you for sharing")
        page.reload()
    finally:
        fake_llm.token_delay = 0.03

    expect(bodies(page, "user")).to_have_text(
        [
            "When my friend was pregnant she asked me what to do.",
            "I listened first, and asked what she felt in her body.",
        ]
    )
    expect(page.locator("#transcript .msg--incomplete")).to_have_count(1)
    expect(page.locator("#transcript .msg--incomplete")).to_contain_text("This reply was cut off.")
    expect(bodies(page, "assistant").last).to_have_text(INTERVIEW_QUESTIONS[1])
    page.reload()
    expect(bodies(page, "assistant").last).to_have_text(INTERVIEW_QUESTIONS[1])
    expect(bodies(page, "user")).to_have_count(2)
    screenshot_chat(page, "participant_reload.png")


def test_when_the_llm_fails_the_guided_form_still_yields_a_card(page, app_server, fake_llm):
    agree_and_skip_to_chat(page)
    fake_llm.script(Error(400, body={"error": {"message": "bad request", "type": "invalid"}}))
    page.locator("#message").fill("Something I care about a lot.")
    page.locator("#message").press("Enter")

    expect(page.locator("#fallback-notice")).to_be_visible()
    expect(page.locator("#composer")).to_have_count(0)
    page.get_by_role("link", name="Open the guided form").click()
    expect(page.get_by_text("isn’t available right now")).to_be_visible()
    page.get_by_label("Title").fill("Listening Before Advising")
    page.get_by_label("Description").fill("Helping people hear their own reasons first.")
    page.get_by_label("When does it apply?").fill("When the user is unsure what they want")
    page.get_by_label("What a wise person pays attention to").fill(
        "FEELINGS the person has not named yet\nMOMENTS of hesitation\nWORDS they repeat"
    )
    page.screenshot(path=ARTIFACTS / "participant_guided.png", full_page=True)
    page.get_by_role("button", name="Save and review").click()

    expect(page.get_by_role("heading", name="Listening Before Advising")).to_be_visible()
    page.get_by_role("button", name="Confirm this card").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    expect(page.locator(".values-card__policies li")).to_have_count(3)
    page.screenshot(path=ARTIFACTS / "participant_done.png", full_page=True)
    rows = query(
        app_server["db"],
        "SELECT source, status FROM elicitation_valuescard WHERE title = ?",
        "Listening Before Advising",
    )
    assert rows == [("guided", "confirmed")]


SEED_HYPOTHESES = """
from elicitation.models import Context, Study
from moralgraph.models import CanonicalValue, UpgradeHypothesis
study = Study.objects.get(slug="demo")
Study.objects.filter(pk=study.pk).update(completion_min_messages=0)  # this card is by form
context, _ = Context.objects.get_or_create(study=study, name="When someone asks for advice")
titles = ["Quoting The Rules", "Laying Out Options", "Listening First", "Trusting Her"]
values = [
    CanonicalValue.objects.create(
        study=study, title=t, description=f"A wise answer starts from {t.lower()}.",
        policies=[f"MOMENTS for {t.lower()}"], external_id=f"e2e-{t}",
    )
    for t in titles
]
for a, b in zip(values, values[1:]):
    UpgradeHypothesis.objects.create(
        study=study, context=context, from_value=a, to_value=b,
        story=f"I used to focus on {a.title.lower()}. Then I saw {b.title.lower()} helped more.",
    )
"""
UNSEED_HYPOTHESES = """
from elicitation.models import Study
from moralgraph.models import CanonicalValue
Study.objects.filter(slug="demo").update(completion_min_messages=2)
CanonicalValue.objects.filter(external_id__startswith="e2e-").delete()
"""


def django_shell(app_server, code: str) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{app_server['db']}",
    }
    command = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code]
    subprocess.run(command, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def test_after_the_card_a_participant_votes_sees_results_and_gives_feedback(page, app_server):
    django_shell(app_server, SEED_HYPOTHESES)
    try:
        agree_and_skip_to_chat(page)
        page.get_by_role("link", name="Prefer a form?").click()
        page.get_by_label("Title").fill("Hearing Her Own Voice")
        page.get_by_label("Description").fill("Helping people hear their own reasons first.")
        page.get_by_label("When does it apply?").fill("When someone asks for advice")
        page.get_by_label("What a wise person pays attention to").fill(
            "FEELINGS the person has not named yet\nMOMENTS of hesitation\nWORDS they repeat"
        )
        page.get_by_role("button", name="Save and review").click()
        page.get_by_role("button", name="Confirm this card").click()

        for number, answer in enumerate(["B is wiser", "B is not wiser", "I’m not sure"], 1):
            expect(page.get_by_role("heading", name="Is B wiser than A?")).to_be_visible()
            expect(page.get_by_text(f"Comparison {number} of 3")).to_be_visible()
            if number == 1:
                page.screenshot(path=ARTIFACTS / "participant_vote.png", full_page=True)
            page.get_by_label(answer).check()
            page.get_by_label("Why? Tell us in your own words").fill(f"Reason {number}")
            page.get_by_role("button", name="Send answer").click()

        expect(page.get_by_role("heading", name="Where did your input go?")).to_be_visible()
        expect(page.get_by_text("You answered 3 comparisons.")).to_be_visible()
        for question in ("represented", "process fair", "graph be fair"):
            group = page.get_by_role("group", name=re.compile(question))
            group.get_by_label("4").check()
        page.screenshot(path=ARTIFACTS / "participant_results.png", full_page=True)
        page.get_by_role("button", name="Finish").click()
        expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
        rows = query(
            app_server["db"],
            "SELECT v.answer, v.reason, p.feedback FROM elicitation_wisdomvote v "
            "JOIN elicitation_participant p ON p.id = v.participant_id "
            "JOIN elicitation_valuescard c ON c.participant_id = p.id "
            "WHERE c.title = ? ORDER BY v.id",
            "Hearing Her Own Voice",
        )
        assert [(answer, reason) for answer, reason, _ in rows] == [
            ("wiser", "Reason 1"),
            ("not_wiser", "Reason 2"),
            ("unsure", "Reason 3"),
        ]
        assert json.loads(rows[0][2])["graph_fair"] == 4
    finally:
        django_shell(app_server, UNSEED_HYPOTHESES)
