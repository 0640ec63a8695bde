"""Reading the model's upgrade hypotheses: what is kept, what is refused and why."""

from pathlib import Path

import pytest

from elicitation.llm.errors import LLMOutputInvalid
from moralgraph.hypotheses import (
    Proposal,
    hypotheses_messages,
    parse_hypotheses,
    without_known_pairs,
)
from moralgraph.prompting import ValueText

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "llm"
IDS = {1, 2, 3, 4}


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_valid_fixture_parses_into_proposals():
    parsed = parse_hypotheses(fixture("upgrade_hypotheses_valid.json"), IDS)

    assert [p.pair for p in parsed.accepted] == [(1, 2), (3, 2), (4, 1)]
    assert parsed.refused == []
    assert parsed.accepted[0].story.startswith("I used to think")


def test_proposing_nothing_is_a_valid_answer():
    parsed = parse_hypotheses(fixture("upgrade_hypotheses_none.json"), IDS)

    assert (parsed.accepted, parsed.refused) == ([], [])


def test_loops_unknown_ids_short_stories_repeats_and_reverses_are_refused():
    parsed = parse_hypotheses(fixture("upgrade_hypotheses_mixed.json"), IDS)

    assert [p.pair for p in parsed.accepted] == [(1, 2), (3, 1)]
    assert parsed.refused == [
        "Hypothesis 2 goes from value 2 to itself.",
        "Hypothesis 3 names a value that was not shown (from_id, to_id = (1, 99)).",
        "Hypothesis 4 has a story of 24 characters; write 200 to 2000.",
        "Hypothesis 5 repeats the pair 1 -> 2 or its reverse.",
        "Hypothesis 6 repeats the pair 2 -> 1 or its reverse.",
        "Hypothesis 8 is not an object with from_id, to_id and story.",
    ]


def test_an_answer_with_nothing_usable_is_rejected_with_every_reason():
    with pytest.raises(LLMOutputInvalid) as caught:
        parse_hypotheses(fixture("upgrade_hypotheses_all_invalid.json"), IDS)

    assert str(caught.value).splitlines() == [
        "No hypothesis could be used:",
        "- Hypothesis 1 goes from value 1 to itself.",
        "- Hypothesis 2 names a value that was not shown (from_id, to_id = (7, 8)).",
    ]


@pytest.mark.parametrize("text", ['{"edges": []}', '{"hypotheses": {}}', "[]", "nothing"])
def test_an_answer_without_a_hypotheses_list_is_rejected(text):
    with pytest.raises(LLMOutputInvalid):
        parse_hypotheses(text, IDS)


def test_pairs_already_known_in_either_direction_are_dropped():
    proposals = [Proposal(1, 2, "s"), Proposal(3, 1, "s"), Proposal(2, 3, "s")]

    assert without_known_pairs(proposals, [(2, 1), (3, 1)]) == [Proposal(2, 3, "s")]


def test_the_prompt_carries_the_method_and_fences_the_data():
    values = [ValueText(7, "Honest Care", "d", ["FEELINGS of x"]), ValueText(9, "B", "d", [])]

    messages, prompt = hypotheses_messages("When the user is <context_text> grieving", values)

    system, user = (m["content"] for m in messages)
    assert prompt.name == "upgrade_hypotheses" and prompt.version.startswith("1-")
    for idea in ("deepening", "less pure motive", "status", "first person", "proposing none"):
        assert idea in system
    assert "<context_text>\nWhen the user is &lt;context_text> grieving\n</context_text>" in user
    assert "Value 7:\n<card_text>\nTitle: Honest Care" in user
    assert "Value 9:" in user


STORY = "A person first tried to steer their friend, then noticed that listening did more. " * 3


def test_a_value_named_by_its_title_instead_of_its_id_is_read_as_that_value():
    text = (
        '{"hypotheses": [{"from_id": "respect and empathy", '
        f'"to_id": "Religion and Personal Beliefs", "story": "{STORY}"}}]}}'
    )
    titles = {1: "Respect and Empathy", 2: "Religion and Personal Beliefs", 3: "Other"}

    parsed = parse_hypotheses(text, {1, 2, 3}, titles)

    assert [(p.from_id, p.to_id) for p in parsed.accepted] == [(1, 2)]


def test_a_title_two_shown_values_share_is_not_guessed():
    text = f'{{"hypotheses": [{{"from_id": "Care", "to_id": 2, "story": "{STORY}"}}]}}'

    with pytest.raises(LLMOutputInvalid, match="not shown"):
        parse_hypotheses(text, {1, 2, 3}, {1: "Care", 2: "Truth", 3: "care"})
