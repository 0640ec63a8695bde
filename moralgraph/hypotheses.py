"""Upgrade hypotheses: which values in a context are plausibly wiser versions of which others.
Pure: no Django, no SDK.

The model sees the context and its values and proposes edges A -> B, each with a first-person
story of someone who moved from A to B. A proposal is kept when both ids are among the values
shown, A != B, the story has STORY_CHARS characters, and neither the pair nor its reverse came
earlier (in the answer, or already stored for the context).
"""

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from elicitation.llm.errors import LLMOutputInvalid
from elicitation.llm.prompts import Prompt, fence
from elicitation.llm.schemas import load_json_object

from .prompting import ValueText, as_id, render, value_block

PROMPT_NAME = "upgrade_hypotheses"
STORY_CHARS = (200, 2000)

Pair = tuple[int, int]


@dataclass(frozen=True)
class Proposal:
    from_id: int
    to_id: int
    story: str

    @property
    def pair(self) -> Pair:
        return self.from_id, self.to_id


@dataclass
class Parsed:
    accepted: list[Proposal] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why each refused proposal was refused


def hypotheses_messages(
    context_name: str, values: Sequence[ValueText]
) -> tuple[list[dict], Prompt]:
    """Instructions, then the context and its values, all participant text fenced as data."""
    system, prompt = render(PROMPT_NAME)
    blocks = [f"The context:\n{fence(context_name, 'context')}"]
    blocks += [value_block(value, f"Value {value.id}:") for value in values]
    user = "\n\n".join(blocks)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}], prompt


def parse_hypotheses(
    text: str, value_ids: Collection[int], titles: Mapping[int, str] | None = None
) -> Parsed:
    """Usable proposals and reasons for the rest.

    Raises LLMOutputInvalid when the answer is not `{"hypotheses": [...]}`, or when it proposes
    something and none of it is usable: a retry with the reasons may do better. An empty list
    is a valid answer. With ``titles`` (id -> title of the values shown), a value named by its
    title instead of its id, as small models do, is read as that value when no other shown
    value has the same title.
    """
    items = load_json_object(text).get("hypotheses")
    if not isinstance(items, list):
        raise LLMOutputInvalid('The answer needs a "hypotheses" list (an empty list is fine).')
    ids = _ValueIds(value_ids, titles or {})
    parsed = Parsed()
    seen: set[Pair] = set()
    for number, item in enumerate(items, start=1):
        proposal, problem = _proposal(item, ids)
        if proposal is not None and _known(proposal.pair, seen):
            problem = f"repeats the pair {proposal.from_id} -> {proposal.to_id} or its reverse"
        if problem is not None or proposal is None:
            parsed.refused.append(f"Hypothesis {number} {problem}.")
            continue
        seen.add(proposal.pair)
        parsed.accepted.append(proposal)
    if parsed.refused and not parsed.accepted:
        lines = "\n".join(f"- {reason}" for reason in parsed.refused)
        raise LLMOutputInvalid(f"No hypothesis could be used:\n{lines}")
    return parsed


def without_known_pairs(proposals: Iterable[Proposal], known: Iterable[Pair]) -> list[Proposal]:
    """Drop proposals whose pair, or its reverse, is already known."""
    seen = set(known)
    return [p for p in proposals if not _known(p.pair, seen)]


def _known(pair: Pair, seen: set[Pair]) -> bool:
    return pair in seen or (pair[1], pair[0]) in seen


class _ValueIds:
    """The shown values' ids, and their titles where a title names one value only."""

    def __init__(self, ids: Collection[int], titles: Mapping[int, str]) -> None:
        self.ids = ids
        counts = Counter(_title_key(title) for title in titles.values())
        self.by_title = {
            _title_key(title): pk for pk, title in titles.items() if counts[_title_key(title)] == 1
        }

    def __contains__(self, pk: object) -> bool:
        return pk in self.ids

    def read(self, raw: object) -> int | None:
        pk = as_id(raw)
        if pk is None and isinstance(raw, str):
            pk = self.by_title.get(_title_key(raw))
        return pk


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split()).strip(" .\"'")


def _proposal(item: object, value_ids: _ValueIds) -> tuple[Proposal | None, str | None]:
    if not isinstance(item, dict):
        return None, "is not an object with from_id, to_id and story"
    from_id, to_id = value_ids.read(item.get("from_id")), value_ids.read(item.get("to_id"))
    story = item.get("story")
    story = story.strip() if isinstance(story, str) else ""
    if from_id not in value_ids or to_id not in value_ids:
        shown = (item.get("from_id"), item.get("to_id"))
        return None, f"names a value that was not shown (from_id, to_id = {shown})"
    if from_id == to_id:
        return None, f"goes from value {from_id} to itself"
    low, high = STORY_CHARS
    if not low <= len(story) <= high:
        return None, f"has a story of {len(story)} characters; write {low} to {high}"
    assert from_id is not None and to_id is not None
    return Proposal(from_id, to_id, story), None
