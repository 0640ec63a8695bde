"""Interviewer replies in a real browser: a little safe markdown, never HTML; the card notice."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_participant_journey import agree_and_skip_to_chat, bodies, say
from tests.fakes.openai_server import Reply

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
