import json

import pytest

from elicitation.protocol import (
    ClientError,
    MessageFrame,
    PingFrame,
    RetryFrame,
    parse_client_frame,
)


def parse(raw):
    return parse_client_frame(raw, max_bytes=1000, max_chars=50)


def assert_refused(raw, code: str, words: str) -> None:
    with pytest.raises(ClientError) as caught:
        parse(raw)
    assert caught.value.code == code
    assert words in caught.value.message
    assert caught.value.as_frame()["type"] == "error"


def test_a_message_frame_is_parsed_and_trimmed():
    frame = parse(json.dumps({"type": "message", "client_id": "abc-1", "content": "  hi  "}))
    assert frame == MessageFrame(client_id="abc-1", content="hi")


def test_retry_and_ping_frames_are_recognised():
    assert parse('{"type": "retry"}') == RetryFrame()
    assert parse('{"type": "ping"}') == PingFrame()


def test_binary_frames_are_refused():
    assert_refused(None, "bad_frame", "Only text frames")


def test_malformed_json_is_refused_with_a_clear_error():
    assert_refused("{not json", "bad_frame", "not valid JSON")


def test_a_frame_without_a_type_is_refused():
    assert_refused("[1, 2]", "bad_frame", '"type"')


def test_unknown_frame_types_are_refused():
    assert_refused('{"type": "drop_tables"}', "bad_frame", "Unknown frame type")


def test_an_empty_message_is_refused():
    assert_refused(
        json.dumps({"type": "message", "client_id": "a", "content": "   "}),
        "empty_message",
        "write something",
    )


def test_an_oversized_message_is_refused_and_says_the_limit():
    raw = json.dumps({"type": "message", "client_id": "a", "content": "x" * 51})
    assert_refused(raw, "message_too_long", "at most 50 characters")


def test_an_oversized_frame_is_refused_before_parsing():
    assert_refused("x" * 1001, "frame_too_large", "1000 bytes")


@pytest.mark.parametrize("client_id", ["", "has space", "x" * 65, 7, None])
def test_a_message_needs_a_sane_client_id(client_id):
    raw = json.dumps({"type": "message", "client_id": client_id, "content": "hi"})
    assert_refused(raw, "bad_frame", "client_id")
