"""PURE rules for what counts as work done: a card with substance, enough chat, enough votes.

No Django here: selectors gather the counts, these functions say what is still missing, in
words a participant can act on.
"""

import re
from dataclasses import dataclass

WORD = re.compile(r"[^\W\d_]{2,}")  # two or more letters: "a", "b" and "." are not words
MIN_POLICIES = 3
MIN_POLICY_WORDS = 2
MIN_DESCRIPTION_WORDS = 5
MIN_TITLE_LETTERS = 4


def words(text: str) -> list[str]:
    return WORD.findall(text)


def card_substance_problems(*, title: str, description: str, policies: list[str]) -> list[str]:
    """What a card lacks to be worth confirming; empty when it has substance."""
    problems = []
    if sum(len(word) for word in words(title)) < MIN_TITLE_LETTERS:
        problems.append("Please give your value a real name, a word or a few.")
    if len(words(description)) < MIN_DESCRIPTION_WORDS:
        problems.append("Please describe your value in a sentence or more.")
    real = [policy for policy in policies if len(words(policy)) >= MIN_POLICY_WORDS]
    if len(real) < MIN_POLICIES:
        problems.append(
            f"Please list at least {MIN_POLICIES} things to attend to, each in a few words."
        )
    return problems


@dataclass(frozen=True)
class CardWork:
    """One confirmed card and how it was earned."""

    has_substance: bool
    participant_messages: int
    guided: bool
    interviewer_failed: bool


def card_counts(card: CardWork, *, min_messages: int) -> bool:
    """A card counts when it has substance and came from a real conversation: at least
    `min_messages` of the participant's own messages, or the guided form after the interviewer
    failed them (which only happens once they have written)."""
    if not card.has_substance:
        return False
    if card.participant_messages >= min_messages:
        return True
    return card.guided and card.interviewer_failed and card.participant_messages > 0


def votes_needed(*, min_votes: int, in_reach: bool, drawn: int) -> int:
    """Votes to ask for: none without hypotheses; all of a draw smaller than `min_votes`;
    `min_votes` while nothing was drawn yet (the draw happens on the voting page)."""
    if not in_reach:
        return 0
    return min(min_votes, drawn) if drawn else min_votes


def completion_missing(*, cards: list[CardWork], min_messages: int, votes: int, needed: int):
    """What the participant still has to do before the study counts them as done."""
    missing = []
    if not any(card_counts(card, min_messages=min_messages) for card in cards):
        missing.append(
            "Please finish your values card: talk it through with the interviewer "
            f"(at least {min_messages} messages of your own) and confirm a card that "
            "describes your value."
        )
    if votes < needed:
        missing.append(f"Please answer at least {needed} comparisons ({votes} so far).")
    return missing
