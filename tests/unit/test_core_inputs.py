"""Context fingerprints: which contexts new votes touched between two builds."""

from moralgraph.core.inputs import context_fingerprints, contexts_changed
from moralgraph.core.types import Vote, VoteArrays

BASE = [
    Vote("r1", 1, 2, 10, "wiser"),
    Vote("r2", 1, 2, 10, "not_wiser"),
    Vote("r1", 2, 3, 11, "wiser"),
]


def prints(votes, groups=None):
    return context_fingerprints(VoteArrays.from_votes(votes), groups)


def test_a_new_vote_changes_only_the_context_it_is_in():
    before = prints(BASE)
    after = prints([*BASE, Vote("r9", 1, 3, 11, "wiser")])

    assert after["10"] == before["10"] and after["11"] != before["11"]
    assert contexts_changed(before, after) == {"changed": ["11"], "unchanged": ["10"], "gone": []}


def test_the_digest_does_not_depend_on_vote_order_or_on_codes_shifted_by_a_new_rater():
    shuffled = prints(list(reversed(BASE)))
    with_new_rater = prints([Vote("r0", 5, 6, 12, "unsure"), *BASE])

    assert shuffled == prints(BASE)
    assert with_new_rater["10"] == shuffled["10"] and with_new_rater["11"] == shuffled["11"]


def test_a_changed_answer_or_bridging_group_changes_the_digest():
    flipped = [Vote("r1", 1, 2, 10, "less_wise"), *BASE[1:]]

    assert prints(flipped)["10"] != prints(BASE)["10"]
    assert prints(BASE, {"r2": "left"})["10"] != prints(BASE)["10"]


def test_without_an_earlier_build_every_context_is_changed_and_a_lost_one_is_named():
    assert contexts_changed(None, {"2": "a", "10": "b"})["changed"] == ["2", "10"]
    assert contexts_changed({"7": "x", "2": "a"}, {"2": "a"}) == {
        "changed": [],
        "unchanged": ["2"],
        "gone": ["7"],
    }
