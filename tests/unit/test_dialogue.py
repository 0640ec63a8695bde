import json

import pytest

from elicitation.dialogue import (
    CARD_REJECTED_NOTE,
    CARD_SHOWN_NOTE,
    FORCED_TOOL,
    JSON_SCHEMA,
    JSON_TEXT,
    CardInProse,
    CardToolNamed,
    NothingSaid,
    ProposeCard,
    Reply,
    Turn,
    articulation_methods,
    awaiting_reply,
    card_from_prose,
    llm_messages,
    may_request_card,
    next_step,
    should_fall_back,
    tool_call_record,
    turn_limit_reached,
)


def test_the_system_prompt_leads_and_tool_traffic_is_kept():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    transcript = [
        Turn("assistant", "Hello"),
        Turn("user", "Hi"),
        Turn("assistant", "", tool_calls=(call,)),
        Turn("tool", "shown", tool_call_id="c1"),
    ]
    messages = llm_messages("SYSTEM", transcript)
    assert messages[0] == {"role": "system", "content": "SYSTEM"}
    assert messages[3]["tool_calls"] == [call]
    assert messages[4] == {"role": "tool", "content": "shown", "tool_call_id": "c1"}
    assert "tool_calls" not in messages[1]


def test_a_card_tool_call_wins_over_text():
    step = next_step("Here is your card.", [("c1", "submit_values_card", '{"title": "x"}')])
    assert step == ProposeCard(
        arguments='{"title": "x"}', tool_call_id="c1", text="Here is your card."
    )


def test_other_tools_are_ignored_and_text_is_a_reply():
    assert next_step("Tell me more?", [("c1", "delete_everything", "{}")]) == Reply("Tell me more?")


def test_blank_output_is_nothing_said():
    assert next_step("  \n", []) == NothingSaid()


def test_the_interviewer_owes_a_reply_only_after_the_participant_spoke():
    assert awaiting_reply([Turn("assistant", "Hi"), Turn("user", "Hello")])
    assert not awaiting_reply([Turn("user", "Hello"), Turn("assistant", "Hi")])
    assert not awaiting_reply([])


def test_fall_back_at_once_when_retrying_cannot_help():
    assert should_fall_back(1, 3, retryable=False)


def test_fall_back_after_repeated_transient_failures():
    assert not should_fall_back(2, 3, retryable=True)
    assert should_fall_back(3, 3, retryable=True)


def test_a_rejected_card_leaves_the_interviewer_owing_an_answer():
    call = tool_call_record("c1", "submit_values_card", "{}")
    rejected = [
        Turn("user", "My story"),
        Turn("assistant", "", tool_calls=(call,)),
        Turn("tool", f"{CARD_REJECTED_NOTE} Fix these problems: ...", tool_call_id="c1"),
    ]
    shown = [*rejected[:2], Turn("tool", CARD_SHOWN_NOTE, tool_call_id="c1")]

    assert awaiting_reply(rejected) is True
    assert awaiting_reply(shown) is False


def test_the_card_button_and_the_turn_limit_count_only_participant_messages():
    transcript = [Turn("assistant", "Hi"), Turn("user", "a"), Turn("assistant", "b")]
    transcript += [Turn("user", "c")]

    assert may_request_card(transcript, 2) and not may_request_card(transcript, 3)
    assert turn_limit_reached(transcript, 2) and not turn_limit_reached(transcript, 3)


def test_articulation_skips_what_is_known_not_to_work_and_always_ends_with_plain_json():
    assert articulation_methods(json_schema=None, forced_tool=None) == [
        JSON_SCHEMA,
        FORCED_TOOL,
        JSON_TEXT,
    ]
    assert articulation_methods(json_schema=False, forced_tool=True) == [FORCED_TOOL, JSON_TEXT]
    assert articulation_methods(json_schema=False, forced_tool=False) == [JSON_TEXT]


PROSE = """Thank you! Here is your values card:

**Title:** Grounded Personal Discernment

**Description:** Helping someone find their own footing.

**Attentional Policies:**
1. **FEELINGS** of unease that point to something unsaid
2. MOMENTS when the person speaks in their own words
- OPPORTUNITIES for the person to hear their reasons

**Context:** When the user is facing a hard decision

Does this capture it?"""


def test_a_card_written_out_in_markdown_is_read_back_into_its_fields():
    step = next_step(PROSE, [])

    assert isinstance(step, CardInProse)
    assert step.fields == {
        "title": "Grounded Personal Discernment",
        "description": "Helping someone find their own footing.",
        "context": "When the user is facing a hard decision",
        "policies": [
            "FEELINGS of unease that point to something unsaid",
            "MOMENTS when the person speaks in their own words",
            "OPPORTUNITIES for the person to hear their reasons",
        ],
    }


def test_labels_on_their_own_line_take_the_next_line_as_their_value():
    fields = card_from_prose("Title: Quiet Care\nDescription:\nBeing there.\nPolicies:\n* SIGNS")

    assert fields == {
        "title": "Quiet Care",
        "description": "Being there.",
        "context": "",
        "policies": ["SIGNS"],
    }


def test_an_ordinary_reply_with_emphasis_or_a_list_is_not_a_card():
    reply = "What did you **notice**?\n1. the silence\n2. the title of the book: Emma"

    assert card_from_prose(reply) is None
    assert next_step(reply, []) == Reply(text=reply)
    assert card_from_prose("The title: a good one?") is None


def test_a_card_written_as_json_in_the_reply_is_read_back():
    card = {"title": "Quiet Care", "description": "Being there.", "policies": ["SIGNS"]}
    text = f"Here is your card: {json.dumps(card)}"

    step = next_step(text, [])

    assert isinstance(step, CardInProse)
    assert step.fields == {**card, "context": ""}
    assert next_step('I use {"curly": "braces"} sometimes.', []) == Reply(
        text='I use {"curly": "braces"} sometimes.'
    )


@pytest.mark.parametrize(
    "text", ["functions.submit_values_card:", " submit_values_card() ", "submit_values_card {}"]
)
def test_a_reply_that_only_names_the_card_tool_means_write_the_card(text):
    assert isinstance(next_step(text, []), CardToolNamed)


def test_a_sentence_that_mentions_the_card_tool_is_still_a_reply():
    assert isinstance(next_step("I will call submit_values_card soon.", []), Reply)
