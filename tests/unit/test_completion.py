"""The pure rules of what counts as work done."""

import pytest

from elicitation.completion import (
    CardWork,
    card_counts,
    card_substance_problems,
    completion_missing,
    votes_needed,
)

POLICIES = ["MOMENTS of quiet clarity", "FEELINGS of unease", "CHOICES she can own"]
DESCRIPTION = "Helping someone hear what they already feel."


@pytest.mark.parametrize(
    ("title", "description", "policies"),
    [
        (".", DESCRIPTION, POLICIES),
        ("a b", DESCRIPTION, POLICIES),
        ("Honest Care", "a b", POLICIES),
        ("Honest Care", "Care.", POLICIES),
        ("Honest Care", DESCRIPTION, ["a", "b", "c"]),
        ("Honest Care", DESCRIPTION, POLICIES[:2] + ["x y"]),
        ("\u200b\u200b", DESCRIPTION, POLICIES),
    ],
)
def test_junk_cards_lack_substance(title, description, policies):
    assert card_substance_problems(title=title, description=description, policies=policies)


def test_a_real_card_has_substance_in_any_script():
    assert not card_substance_problems(title="Honesty", description=DESCRIPTION, policies=POLICIES)
    assert not card_substance_problems(
        title="Ehrliche Fürsorge",
        description="Jemandem helfen zu hören, was er schon fühlt.",
        policies=["MOMENTE der Klarheit", "GEFÜHLE von Unbehagen", "ENTSCHEIDUNGEN die passen"],
    )


def work(**fields) -> CardWork:
    defaults = {"has_substance": True, "participant_messages": 0, "guided": False}
    return CardWork(**{**defaults, "interviewer_failed": False, **fields})


def test_a_card_counts_after_enough_messages_or_a_failed_interviewer():
    assert card_counts(work(participant_messages=2), min_messages=2)
    assert not card_counts(work(participant_messages=1), min_messages=2)
    assert card_counts(
        work(participant_messages=1, guided=True, interviewer_failed=True), min_messages=2
    )
    assert not card_counts(work(guided=True, interviewer_failed=True), min_messages=2)
    assert not card_counts(work(has_substance=False, participant_messages=9), min_messages=2)


def test_votes_needed_follow_what_there_is_to_vote_on():
    assert votes_needed(min_votes=3, in_reach=False, drawn=0) == 0
    assert votes_needed(min_votes=3, in_reach=True, drawn=0) == 3
    assert votes_needed(min_votes=3, in_reach=True, drawn=2) == 2
    assert votes_needed(min_votes=3, in_reach=True, drawn=5) == 3


def test_nothing_is_missing_once_the_card_counts_and_the_votes_are_in():
    good = [work(participant_messages=2)]
    assert completion_missing(cards=good, min_messages=2, votes=3, needed=3) == []
    assert len(completion_missing(cards=[], min_messages=2, votes=0, needed=3)) == 2
