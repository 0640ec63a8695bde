"""Interviewer replies in a real browser: a little safe markdown, never HTML; the card notice."""

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.test_participant_journey import agree_and_skip_to_chat, bodies, say
from tests.fakes.openai_server import SAMPLE_CARD, Reply

pytestmark = pytest.mark.e2e

MARKDOWN_REPLY = (
    "Thank you. **What mattered** to you was *her own* choice.\n\n"
    "- her fear\n- her faith\n\n"
    "Is that right? <img src=x onerror=\"document.title='pwned'\"> <b>not bold</b>"
)


def test_replies_show_bold_italics_and_lists_and_no_html(page, app_server, fake_llm):
    agree_and_skip_to_chat(page)
    fake_llm.script(Reply(MARKDOWN_REPLY))

    say(page, "My sister faced this and I listened.")

    reply = bodies(page, "assistant").last
    expect(reply.locator("strong")).to_have_text("What mattered")
    expect(reply.locator("em")).to_have_text("her own")
    expect(reply.locator("ul > li")).to_have_text(["her fear", "her faith"])
    expect(reply).to_contain_text("<img src=x onerror=\"document.title='pwned'\">")
    expect(reply).to_contain_text("<b>not bold</b>")
    expect(reply.locator("img, b")).to_have_count(0)
    assert page.title() != "pwned"
    expect(page.locator("#card-notice")).to_have_attribute("aria-live", "polite")


def test_make_my_card_appears_after_three_messages_and_writes_the_card_from_the_chat(
    page, app_server, fake_llm
):
    agree_and_skip_to_chat(page)
    fake_llm.script(Reply("What happened?"), Reply("What did you notice?"), Reply("Why?"))
    button = page.get_by_role("button", name="Make my card")

    say(page, "My sister faced this and I listened to her for hours.")
    expect(bodies(page, "assistant").last).to_have_text("What happened?")
    say(page, "I noticed she needed to decide for herself, without pressure.")
    expect(bodies(page, "assistant").last).to_have_text("What did you notice?")
    expect(button).to_be_hidden()
    say(page, "Because it was her life and her faith, not ours.")
    expect(bodies(page, "assistant").last).to_have_text("Why?")
    expect(button).to_be_visible()
    fake_llm.script(Reply(json.dumps(SAMPLE_CARD)))  # the articulation call's answer
    button.click()

    notice = page.locator("#card-notice")
    expect(notice).to_contain_text(SAMPLE_CARD["title"])
    expect(notice).to_be_in_viewport()
    expect(button).to_be_hidden()
    articulation = fake_llm.requests[-1]
    assert "<conversation_text>" in articulation["messages"][-1]["content"]
    assert "because it was her life" in articulation["messages"][-1]["content"].lower()
