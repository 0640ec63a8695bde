import json
from pathlib import Path

import jsonschema
import pytest

from elicitation.llm.errors import LLMOutputInvalid
from elicitation.llm.schemas import (
    CARD_RESPONSE_FORMAT,
    CONTEXT_MAX_CHARS,
    DESCRIPTION_MAX_CHARS,
    POLICY_MAX_CHARS,
    SUBMIT_VALUES_CARD_TOOL,
    CardDraft,
    card_json_schema,
    parse_values_card,
    validate_card_fields,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "llm"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def problems_of(arguments: str) -> str:
    with pytest.raises(LLMOutputInvalid) as caught:
        parse_values_card(arguments)
    return str(caught.value)


def test_a_valid_card_parses_into_a_draft():
    card = parse_values_card(fixture_text("submit_values_card_valid.json"))

    assert card == CardDraft(
        title="Grounded Personal Discernment",
        description=json.loads(fixture_text("submit_values_card_valid.json"))["description"],
        policies=json.loads(fixture_text("submit_values_card_valid.json"))["policies"],
        context="When the user is facing a hard personal decision",
    )


def test_parsing_strips_whitespace_drops_repeated_policies_and_capitalises_when():
    card = parse_values_card(fixture_text("submit_values_card_messy_but_valid.json"))

    assert card.title == "Honest Companionship"
    assert card.description == "Being present with someone without steering them."
    assert card.policies == [
        "MOMENTS when the person stops performing and speaks plainly",
        "SENSE OF PEACE that follows a hard truth said kindly",
        "SMALL SIGNS that the person feels safe enough to disagree",
    ]
    assert card.context == "When the user is grieving"


def test_an_invalid_card_lists_every_problem_in_plain_words():
    message = problems_of(fixture_text("submit_values_card_invalid.json"))

    assert message.startswith("The values card was not accepted:")
    assert "The title has 1 words; use 3 to 5 words." in message
    assert "The description is empty" in message
    assert "There are 2 distinct policies; give 3 to 8." in message
    assert "Policy 1 ('without causing harm to anyone') must begin with an ALL-CAPS" in message
    assert "Policy 2" not in message
    assert "The context ('The user is grieving') must start with 'When'" in message


def test_wrong_json_types_are_reported_not_crashed_on():
    message = problems_of(fixture_text("submit_values_card_wrong_types.json"))

    assert "title must be a string." in message
    assert "policies must be a list of strings." in message


def test_text_that_is_not_json_is_reported():
    assert "not valid JSON" in problems_of('{"title": "Half a card"')
    assert "must be a JSON object" in problems_of('["a", "list"]')


def test_repeated_policies_count_once_towards_the_minimum():
    card = json.loads(fixture_text("submit_values_card_valid.json"))
    card["policies"] = ["MOMENTS of calm"] * 3

    assert "There are 1 distinct policies" in problems_of(json.dumps(card))


def test_overlong_fields_are_reported():
    card = json.loads(fixture_text("submit_values_card_valid.json"))
    card["description"] = "word " * 200
    card["policies"][0] = "FEELINGS " + "x" * 250
    card["context"] = "When " + "y" * 250

    message = problems_of(json.dumps(card))

    assert "keep it to one or two sentences (at most 600 characters)" in message
    assert "Policy 1 is longer than 200 characters." in message
    assert "The context is longer than 200 characters" in message


def test_edit_form_validation_can_skip_the_caps_anchor():
    policies = ["noticing when they relax", "moments of honesty", "their own words"]

    strict = validate_card_fields("Honest Care Always", "Be there.", policies, "When grieving")
    lenient = validate_card_fields(
        "Honest Care Always", "Be there.", policies, "When grieving", require_caps_anchor=False
    )

    assert len(strict) == 3
    assert lenient == []


def test_caps_anchors_may_be_several_words_or_follow_an_article():
    policies = ["SENSE OF PEACE that follows", "a SENSE OF PEACE that follows", "CHANCES to rest"]

    assert validate_card_fields("Quiet Rest Matters", "Rest.", policies, "When tired") == []
    assert validate_card_fields("Quiet Rest Matters", "Rest.", ["I notice", "A", "ok"], "When")


def test_the_tool_schema_requires_every_card_field():
    function = SUBMIT_VALUES_CARD_TOOL["function"]

    assert function["name"] == "submit_values_card"
    assert function["parameters"]["required"] == ["title", "description", "policies", "context"]
    assert function["parameters"]["properties"]["policies"]["minItems"] == 3
    assert function["parameters"]["properties"]["policies"]["maxItems"] == 8


def _card_with(**changes) -> dict:
    return json.loads(fixture_text("submit_values_card_valid.json")) | changes


def _schema_accepts(card: dict) -> bool:
    return jsonschema.Draft202012Validator(card_json_schema()).is_valid(card)


def _validator_accepts(card: dict) -> bool:
    try:
        parse_values_card(json.dumps(card))
    except LLMOutputInvalid:
        return False
    return True


EDGE_CARDS = {
    "valid": {},
    "one-word title": {"title": "Honesty"},
    "two-word title": {"title": "Honest care"},
    "eight-word title": {"title": "one two three four five six seven eight"},
    "nine-word title": {"title": "one two three four five six seven eight nine"},
    "overlong title": {"title": "Word " + "x" * 80},
    "empty description": {"description": ""},
    "description at the limit": {"description": "d" * DESCRIPTION_MAX_CHARS},
    "description past the limit": {"description": "d" * (DESCRIPTION_MAX_CHARS + 1)},
    "context at the limit": {"context": "When " + "c" * (CONTEXT_MAX_CHARS - 5)},
    "context past the limit": {"context": "When " + "c" * (CONTEXT_MAX_CHARS - 4)},
    "context without when": {"context": "The user is grieving"},
    "lowercase when": {"context": "when the user is grieving"},
    "two policies": {"policies": ["MOMENTS of calm", "FEELINGS of ease"]},
    "nine policies": {"policies": [f"MOMENTS number {n}" for n in range(9)]},
    "policy without caps": {"policies": ["moments of calm", "FEELINGS of ease", "SIGNS of rest"]},
    "policy after an article": {
        "policies": ["a SENSE OF PEACE", "FEELINGS of ease", "SIGNS of rest"]
    },
    "policy past the limit": {
        "policies": ["MOMENTS " + "m" * POLICY_MAX_CHARS, "FEELINGS of ease", "SIGNS of rest"]
    },
    "single capital anchor": {"policies": ["I notice calm", "FEELINGS of ease", "SIGNS of rest"]},
}


@pytest.mark.parametrize("name", EDGE_CARDS)
def test_the_card_schema_and_the_card_validator_agree(name):
    card = _card_with(**EDGE_CARDS[name])

    assert _schema_accepts(card) == _validator_accepts(card), name


def test_the_tool_and_the_response_format_carry_the_same_card_schema():
    tool_schema = SUBMIT_VALUES_CARD_TOOL["function"]["parameters"]

    assert tool_schema == CARD_RESPONSE_FORMAT["json_schema"]["schema"] == card_json_schema()
    assert tool_schema["properties"]["description"]["maxLength"] == DESCRIPTION_MAX_CHARS
    assert tool_schema["properties"]["context"]["maxLength"] == CONTEXT_MAX_CHARS


def test_html_entities_a_model_wrote_become_their_characters():
    card = parse_values_card(
        json.dumps(
            {
                "title": "Faith &amp; Freedom Together",
                "description": "It&#39;s her choice, made with her faith and her family.",
                "policies": [
                    "MOMENTS when she says what she&#x27;s afraid of",
                    "FEELINGS she has not said aloud yet",
                    "SIGNS that she needs time more than advice",
                ],
                "context": "When the user is considering an abortion, it&#39;s a hard choice",
            }
        )
    )

    assert card.title == "Faith & Freedom Together"
    assert card.description.startswith("It's her choice")
    assert card.policies[0] == "MOMENTS when she says what she's afraid of"
    assert card.context.endswith("it's a hard choice")
