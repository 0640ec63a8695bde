"""Vote records, columnar arrays and configuration."""

import numpy as np
import pytest

from moralgraph.core.types import (
    LESS_WISE,
    NOT_WISER,
    UNSURE,
    WISER,
    Config,
    Vote,
    VoteArrays,
    answer_code,
)


def test_codes_follow_sorted_labels_not_arrival_order():
    votes = VoteArrays.from_votes(
        [Vote("r2", 30, 10, "when b", "wiser"), Vote("r1", 20, 30, "when a", "unsure")]
    )
    assert votes.raters == ("r1", "r2")
    assert votes.values == (10, 20, 30)
    assert votes.contexts == ("when a", "when b")
    assert votes.rater.tolist() == [1, 0]
    assert votes.src.tolist() == [2, 1]
    assert votes.dst.tolist() == [0, 2]
    assert votes.answer.tolist() == [WISER, UNSURE]


def test_from_columns_and_from_votes_agree():
    records = [Vote("a", "v1", "v2", "c", "not_wiser"), Vote("b", "v2", "v3", "c", "less_wise")]
    by_records = VoteArrays.from_votes(records)
    by_columns = VoteArrays.from_columns(
        ["a", "b"], ["v1", "v2"], ["v2", "v3"], ["c", "c"], [NOT_WISER, LESS_WISE]
    )
    for name in ("rater", "src", "dst", "context", "answer"):
        assert getattr(by_records, name).tolist() == getattr(by_columns, name).tolist()
    assert by_records.values == by_columns.values == ("v1", "v2", "v3")


def test_large_sparse_int_ids_are_encoded_by_sorting():
    votes = VoteArrays.from_columns([5, 6], [10**12, 3], [7, 10**12], [0, 0], [0, 0])
    assert votes.values == (3, 7, 10**12)
    assert votes.src.tolist() == [2, 0]


def test_mixed_int_and_string_ids_sort_ints_first():
    votes = VoteArrays.from_votes(
        [Vote("r", "b", 2, "c", "wiser"), Vote("r", 1, "a", "c", "wiser")]
    )
    assert votes.values == (1, 2, "a", "b")


def test_mai_relationship_names_map_to_answers():
    assert answer_code("upgrade") == WISER
    assert answer_code("no_upgrade") == NOT_WISER
    assert answer_code("not_sure") == UNSURE


def test_unknown_answer_is_rejected_with_the_allowed_names():
    with pytest.raises(ValueError, match="unknown answer 'maybe'"):
        Vote("r", 1, 2, "c", "maybe")


def test_a_vote_needs_two_different_values():
    with pytest.raises(ValueError, match="two different values"):
        Vote("r", 1, 1, "c", "wiser")


def test_canonical_order_is_independent_of_input_order():
    rows = [("r1", 1, 2, "c", 0), ("r2", 2, 3, "d", 1), ("r3", 1, 3, "c", 3)]
    forward = VoteArrays.from_columns(*zip(*rows, strict=True)).canonical()
    backward = VoteArrays.from_columns(*zip(*rows[::-1], strict=True)).canonical()
    for name in ("rater", "src", "dst", "context", "answer"):
        assert np.array_equal(getattr(forward, name), getattr(backward, name))


def test_config_round_trips_and_rejects_unknown_keys():
    config = Config.mai(min_wiser=3)
    assert config.entropy_mode == "mai_five_field"
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown config keys: typo"):
        Config.from_dict({"typo": 1})


def test_config_rejects_unknown_modes():
    with pytest.raises(ValueError, match="entropy_mode"):
        Config(entropy_mode="three_field")
