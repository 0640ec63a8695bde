from elicitation.dialogue import (
    NothingSaid,
    ProposeCard,
    Reply,
    Turn,
    awaiting_reply,
    llm_messages,
    next_step,
    should_fall_back,
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
