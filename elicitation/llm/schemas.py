"""Structured outputs the model produces, with the checks that make them usable.

A failed check is phrased for the model: the message of LLMOutputInvalid lists every problem in
plain words and is sent back to the model for one more try.
"""

import html
import json
import re
from dataclasses import dataclass

from .errors import LLMOutputInvalid

TITLE_WORDS = (2, 8)
TITLE_MAX_CHARS = 80
DESCRIPTION_MAX_CHARS = 600
POLICY_COUNT = (3, 8)
POLICY_MAX_CHARS = 200
CONTEXT_MAX_CHARS = 200
LEADING_ARTICLES = {"a", "an", "the"}

# The patterns restate, for grammar-constrained servers, the checks in `_title_problems`,
# `_description_problems`, `_policies_problems` and `_context_problems`
# (tests/unit/test_llm_schemas.py holds them to agree). They also leave out quotes, backslashes
# and line breaks, and so keep escapes out of a small model's JSON; they are anchored at both
# ends and use only what llama.cpp's schema-to-grammar converters accept.
_WORD = r'[^ "\\\n\t]+'
_TEXT = r'[^"\\\n]'
TITLE_PATTERN = rf"^{_WORD}( {_WORD}){{{TITLE_WORDS[0] - 1},{TITLE_WORDS[1] - 1}}}$"
DESCRIPTION_PATTERN = rf'^[^ "\\\n\t]{_TEXT}*$'
POLICY_PATTERN = rf"^((a|an|the|A|An|The) )?[A-Z][A-Z'-]*[A-Z][,:;.]?( {_TEXT}+)?$"
CONTEXT_PATTERN = rf"^[Ww]hen{_TEXT}*$"


def card_json_schema() -> dict:
    """The JSON schema of a values card, built from the validator's own limits."""
    return {
        "type": "object",
        "properties": {
            "title": {
                "type": "string",
                "maxLength": TITLE_MAX_CHARS,
                "pattern": TITLE_PATTERN,
                "description": "3-5 words naming the value.",
            },
            "description": {
                "type": "string",
                "maxLength": DESCRIPTION_MAX_CHARS,
                "pattern": DESCRIPTION_PATTERN,
                "description": "One or two sentences in words the participant would use.",
            },
            "policies": {
                "type": "array",
                "items": {
                    "type": "string",
                    "maxLength": POLICY_MAX_CHARS,
                    "pattern": POLICY_PATTERN,
                },
                "minItems": POLICY_COUNT[0],
                "maxItems": POLICY_COUNT[1],
                "description": (
                    "Attentional policies: an ALL-CAPS plural noun for what is noticed, "
                    "then a phrase pinning it down, e.g. 'MOMENTS when ...'."
                ),
            },
            "context": {
                "type": "string",
                "maxLength": CONTEXT_MAX_CHARS,
                "pattern": CONTEXT_PATTERN,
                "description": "The situation it applies to, starting 'When the user is'.",
            },
        },
        "required": ["title", "description", "policies", "context"],
        "additionalProperties": False,
    }


SUBMIT_VALUES_CARD_TOOL: dict = {
    "type": "function",
    "function": {
        "name": "submit_values_card",
        "description": (
            "Submit the participant's values card once you understand what they attend to "
            "and why it matters to them. The participant reviews and edits it afterwards."
        ),
        "parameters": card_json_schema(),
    },
}
CARD_RESPONSE_FORMAT: dict = {
    "type": "json_schema",
    "json_schema": {"name": "values_card", "strict": False, "schema": card_json_schema()},
}


@dataclass(frozen=True)
class CardDraft:
    title: str
    description: str
    policies: list[str]
    context: str


def parse_values_card(arguments: str) -> CardDraft:
    """Parse and check the raw JSON arguments of a `submit_values_card` call.

    Deliberately a little lenient: the spec asks for 3-5 title words and we accept 2-8, and a
    policy may open with an article before its ALL-CAPS anchor ("a SENSE OF PEACE ..."), so a
    good card is not lost over a word. Whitespace is stripped, repeated policies are dropped,
    and the context gets a capital "When".
    """
    data = load_json_object(arguments, what="The arguments")
    card, problems = _draft_from(data)
    problems += validate_card_fields(card.title, card.description, card.policies, card.context)
    if problems:
        raise LLMOutputInvalid(_problems_message(problems))
    return card


def validate_card_fields(
    title: str,
    description: str,
    policies: list[str],
    context: str,
    *,
    require_caps_anchor: bool = True,
) -> list[str]:
    """Return every problem with these (already stripped) card fields, in plain words."""
    problems = _title_problems(title) + _description_problems(description)
    problems += _policies_problems(policies, require_caps_anchor=require_caps_anchor)
    return problems + _context_problems(context)


def _draft_from(data: dict) -> tuple[CardDraft, list[str]]:
    """The card's fields; HTML entities a model wrote ("it&#39;s") become their characters."""
    problems = []
    fields = {}
    for name in ("title", "description", "context"):
        value = data.get(name, "")
        if not isinstance(value, str):
            problems.append(f"{name} must be a string.")
            value = ""
        fields[name] = html.unescape(value).strip()
    policies = data.get("policies", [])
    if not isinstance(policies, list) or not all(isinstance(p, str) for p in policies):
        problems.append("policies must be a list of strings.")
        policies = []
    policies = [html.unescape(policy) for policy in policies]
    context = fields["context"]
    if context[:4].lower() == "when":
        context = "When" + context[4:]
    draft = CardDraft(fields["title"], fields["description"], _unique_stripped(policies), context)
    return draft, problems


def _unique_stripped(policies: list[str]) -> list[str]:
    return list(dict.fromkeys(p.strip() for p in policies))


def _title_problems(title: str) -> list[str]:
    low, high = TITLE_WORDS
    words = len(title.split())
    if not low <= words <= high:
        return [f"The title has {words} words; use 3 to 5 words."]
    if len(title) > TITLE_MAX_CHARS:
        return [f"The title is {len(title)} characters long; keep it under {TITLE_MAX_CHARS}."]
    return []


def _description_problems(description: str) -> list[str]:
    if not description:
        return ["The description is empty; write one or two sentences."]
    if len(description) > DESCRIPTION_MAX_CHARS:
        return [
            f"The description is {len(description)} characters long; "
            f"keep it to one or two sentences (at most {DESCRIPTION_MAX_CHARS} characters)."
        ]
    return []


def _policies_problems(policies: list[str], *, require_caps_anchor: bool) -> list[str]:
    low, high = POLICY_COUNT
    problems = []
    if not low <= len(policies) <= high:
        problems.append(f"There are {len(policies)} distinct policies; give {low} to {high}.")
    for number, policy in enumerate(policies, start=1):
        if not policy:
            problems.append(f"Policy {number} is empty.")
        elif len(policy) > POLICY_MAX_CHARS:
            problems.append(f"Policy {number} is longer than {POLICY_MAX_CHARS} characters.")
        elif require_caps_anchor and not _has_caps_anchor(policy):
            problems.append(
                f"Policy {number} ({policy!r}) must begin with an ALL-CAPS plural noun, "
                "e.g. 'MOMENTS when ...' or 'FEELINGS of ...'."
            )
    return problems


def _has_caps_anchor(policy: str) -> bool:
    """True for "FEELINGS of ..." and, as in the spec's own example, "a SENSE OF PEACE ..."."""
    words = policy.split()
    if len(words) > 1 and words[0].lower() in LEADING_ARTICLES:
        words = words[1:]
    anchor = words[0].strip("\"'‘’“”")
    return sum(char.isalpha() for char in anchor) >= 2 and anchor.isupper()


def _context_problems(context: str) -> list[str]:
    if not context:
        return ["The context is empty; describe the situation, starting 'When the user is'."]
    if len(context) > CONTEXT_MAX_CHARS:
        return [f"The context is longer than {CONTEXT_MAX_CHARS} characters; shorten it."]
    if not context.lower().startswith("when"):
        return [f"The context ({context!r}) must start with 'When', e.g. 'When the user is ...'."]
    return []


def _problems_message(problems: list[str]) -> str:
    lines = "\n".join(f"- {problem}" for problem in problems)
    return f"The values card was not accepted:\n{lines}"


_CODE_FENCE = re.compile(r"\A```(?:json)?\s*\n(.*?)\n?```\Z", re.DOTALL | re.IGNORECASE)


def card_from_text(text: str) -> CardDraft:
    """`parse_values_card` for a card written as JSON somewhere in free text."""
    return parse_values_card(json_object_text(text))


def json_object_text(text: str) -> str:
    """The outermost {...} in a model's text, or the text itself when it has none."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def load_json_object(text: str, *, what: str = "The answer") -> dict:
    """The JSON object in a model's output; a ```json fence around it is tolerated."""
    stripped = text.strip()
    if match := _CODE_FENCE.match(stripped):
        stripped = match[1].strip()
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise LLMOutputInvalid(f"{what} was not valid JSON ({exc.msg}).") from None
    if not isinstance(data, dict):
        raise LLMOutputInvalid(f"{what} must be a JSON object.")
    return data
