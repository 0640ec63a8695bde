"""The hygiene gate on its own: what participant text and ids it lets through."""

import pytest

from elicitation.hygiene import MAX_ID, TextRefused, bounded_id, is_visible, participant_text


def test_ordinary_text_passes_with_line_endings_unified_and_tabs_kept():
    assert participant_text("  one\r\ntwo\rthree\tfour  ") == "one\ntwo\nthree\tfour"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("broken \ud83d half", "bad_text"),
        ("nul \x00 byte", "bad_text"),
        ("delete \x7f", "bad_text"),
        ("c1 \x85 control", "bad_text"),
        ("\u200b\u200d\ufeff", "empty_message"),
        ("\u3164\u2800 \u0301", "empty_message"),
        ("   ", "empty_message"),
    ],
)
def test_broken_control_and_invisible_text_is_refused(text, code):
    with pytest.raises(TextRefused) as refused:
        participant_text(text)
    assert refused.value.code == code


def test_text_with_emoji_and_accents_is_visible():
    assert is_visible("caf\u00e9 \U0001f642")
    assert not is_visible("\u200b\u2060")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("42", 42),
        (7, 7),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("0", None),
        ("-3", None),
        ("1e3", None),
        ("\uff11", None),
        (True, None),
        (2**70, None),
        (None, None),
    ],
)
def test_ids_are_bounded_to_what_the_database_can_hold(raw, expected):
    assert bounded_id(raw) == expected
