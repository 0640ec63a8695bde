"""Simulated participants, the pure part: personas, the prompts that play them, and reading the
votes they give. No Django and no SDK; `simulation.py` does the calls and the writes.

A persona file is a JSON list of objects, or JSON Lines with one object a line. Each persona
needs a `name` and an `outlook` (a sentence of how they see the world); `age` (a number),
`gender`, `politics`, `religion`, `country` and `occupation` are optional and also fill the
participant's demographics, so bridging reports can be piloted too.
"""

import json
import random
import re
from dataclasses import dataclass, fields
from pathlib import Path

from elicitation.llm.schemas import load_json_object
from moralgraph.prompting import ValueText, value_block

from .llm.errors import LLMOutputInvalid
from .llm.prompts import Prompt, fence, render

BUILTIN_PERSONAS_FILE = Path(__file__).resolve().parent / "simulation_personas.json"
PARTICIPANT_PROMPT = "simulated_participant"
VOTE_PROMPT = "simulated_vote"
VOTE_ANSWERS = ("wiser", "not_wiser", "less_wise", "unsure")
REASON_MAX_CHARS = 1000
AGE_RANGES = ((24, "18-24"), (34, "25-34"), (44, "35-44"), (54, "45-54"), (64, "55-64"))


@dataclass(frozen=True)
class Persona:
    name: str
    outlook: str
    age: int | None = None
    gender: str = ""
    politics: str = ""
    religion: str = ""
    country: str = ""
    occupation: str = ""

    def describe(self) -> str:
        """One paragraph the model can play, e.g. "Ruth, 68, woman, retired nurse (...)."."""
        who = ", ".join(str(part) for part in (self.name, self.age, self.gender.lower()) if part)
        facts = [
            f"{label}: {value}"
            for label, value in (
                ("occupation", self.occupation),
                ("politics", self.politics),
                ("religion", self.religion),
                ("country", self.country),
            )
            if value
        ]
        return f"{who}. {'; '.join(facts)}.\n{self.outlook}" if facts else f"{who}.\n{self.outlook}"

    def demographics(self) -> dict[str, str]:
        """The demographics form's answers this persona would give (keys of DemographicsForm)."""
        answers = {
            "age_range": age_range(self.age) if self.age is not None else "",
            "gender": self.gender,
            "political_affiliation": self.politics,
            "religion": self.religion,
            "country": self.country,
        }
        return {key: value for key, value in answers.items() if value}


def age_range(age: int) -> str:
    return next((label for top, label in AGE_RANGES if age <= top), "65 or older")


# --- persona files ---


def load_personas(path: Path = BUILTIN_PERSONAS_FILE) -> list[Persona]:
    """Read a JSON list or JSON Lines file of personas; ValueError says what is wrong."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = [_json_line(line, n) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if isinstance(data, dict):
        data = [data]  # a JSON Lines file holding a single persona
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty JSON list of personas, or JSON Lines.")
    return [persona_from_dict(item, n) for n, item in enumerate(data, 1)]


def _json_line(line: str, number: int) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {number} is not valid JSON ({exc.msg}).") from None


def persona_from_dict(item: object, number: int = 1) -> Persona:
    if not isinstance(item, dict):
        raise ValueError(f"persona {number} must be a JSON object.")
    known = {f.name for f in fields(Persona)}
    if unknown := sorted(set(item) - known):
        raise ValueError(f"persona {number} has unknown fields {unknown}; known: {sorted(known)}.")
    for name in ("name", "outlook"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            raise ValueError(f"persona {number} needs a non-empty string {name!r}.")
    age = item.get("age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or age < 0):
        raise ValueError(f"persona {number}: 'age' must be a whole number of years.")
    text = {key: str(value).strip() for key, value in item.items() if key != "age"}
    return Persona(**text, age=age)


def assign(personas: list[Persona], count: int, rng: random.Random) -> list[Persona]:
    """`count` personas in a seeded order: each used once before any is used again."""
    order = list(personas)
    rng.shuffle(order)
    return [order[n % len(order)] for n in range(count)]


# --- checks on what the model wrote ---

EXAMPLE_CARD_TITLE = "Steady Company In Grief"  # the prompts' example card
PLACEHOLDERS = {"string", "title", "description", "context", "policy", "...", "n/a", "none"}
OUT_OF_CHARACTER = re.compile(
    r"\b(as an ai|language model|role-?play|in character|simulat\w*|happy to continue|"
    r"continue the conversation|playing (the|this) (role|part|character)|as requested|"
    r"as this person|as (a|the) participant)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z]{5,}")
IN_CHARACTER_REMINDER = {
    "role": "user",
    "content": "Say only what this person would say to the interviewer, in the first person, "
    "without talking about a role or a conversation.",
}


@dataclass(frozen=True)
class CardText:
    title: str
    description: str
    policies: list[str]
    context: str


def out_of_character(text: str) -> bool:
    """True when a simulated participant's message talks about the role-play itself."""
    return bool(OUT_OF_CHARACTER.search(text))


def card_nonsense(card: CardText, said: list[str]) -> list[str]:
    """Why a person would not confirm this card as theirs; empty when it is plausible.

    `said` holds the question and the participant's own messages. A card that copies the
    prompts' example, holds placeholders, or shares no word of five letters or more (by its
    first five letters) with what the participant said is not theirs.
    """
    problems = []
    if card.title.strip().lower() == EXAMPLE_CARD_TITLE.lower():
        problems.append("the card copies the prompt's example")
    fields = [card.title, card.description, card.context, *card.policies]
    if any(field.strip().lower().strip(".") in PLACEHOLDERS for field in fields):
        problems.append("the card holds placeholder text")
    if not _stems(" ".join(fields)) & _stems(" ".join(said)):
        problems.append("the card shares no words with what the participant said")
    return problems


COMMON_WORDS = {"about", "would", "could", "should", "their", "there", "these", "those", "which"}
COMMON_WORDS |= {"where", "while", "being", "think", "really", "things", "thing"}


def _stems(text: str) -> set[str]:
    return {word[:5] for word in _WORD.findall(text.lower()) if word not in COMMON_WORDS}


# --- prompts ---


def participant_messages(
    persona: Persona, question: str, transcript: list[tuple[str, str]]
) -> tuple[list[dict], Prompt]:
    """What the persona model sees before writing the participant's next message.

    `transcript` holds (role, text) pairs as the participant saw them, role "user" or
    "assistant"; it goes in fenced as data, so an interviewer's words cannot re-cast the role.
    """
    speaker = {"user": "You", "assistant": "Interviewer"}
    lines = "\n\n".join(f"{speaker.get(role, role)}: {text}" for role, text in transcript)
    system, prompt = render(
        PARTICIPANT_PROMPT,
        persona=persona.describe(),
        question=fence(question, "question"),
        transcript=fence(lines, "transcript"),
    )
    ask = "Write your next message to the interviewer."
    return [{"role": "system", "content": system}, {"role": "user", "content": ask}], prompt


@dataclass(frozen=True)
class HypothesisText:
    """An upgrade hypothesis as the simulated voter sees it."""

    context: str
    from_value: ValueText
    to_value: ValueText
    story: str


def vote_messages(persona: Persona, hypothesis: HypothesisText) -> tuple[list[dict], Prompt]:
    system, prompt = render(
        VOTE_PROMPT,
        persona=persona.describe(),
        context=fence(hypothesis.context, "context"),
        from_value=value_block(hypothesis.from_value, "Value A (before):"),
        to_value=value_block(hypothesis.to_value, "Value B (after):"),
        story=fence(hypothesis.story or "(no story was given)", "story"),
    )
    ask = "Give your judgement as the JSON object."
    return [{"role": "system", "content": system}, {"role": "user", "content": ask}], prompt


# --- answers ---


@dataclass(frozen=True)
class VoteJudgement:
    answer: str
    reason: str = ""


UNSURE = VoteJudgement("unsure")


def parse_vote(text: str) -> VoteJudgement:
    """`{"answer": "wiser" | "not_wiser" | "less_wise" | "unsure", "reason": str}`.

    LLMOutputInvalid lists what was wrong, in words meant for the model's second try. A long
    reason is cut to REASON_MAX_CHARS rather than refused.
    """
    data = load_json_object(text)
    problems = []
    answer = data.get("answer")
    if answer not in VOTE_ANSWERS:
        problems.append(f'"answer" must be one of {", ".join(VOTE_ANSWERS)}; got {answer!r}.')
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        problems.append('"reason" must be a string.')
    if problems:
        raise LLMOutputInvalid("The judgement was not accepted:\n- " + "\n- ".join(problems))
    return VoteJudgement(answer=answer, reason=reason.strip()[:REASON_MAX_CHARS])
