"""The fake server's scripted study: every part a whole study needs, in varied words.

`StudyScript` answers each kind of request the app sends, told apart by what its messages
fence as data (the same marks the app's prompts use):

* the simulated participant (`<transcript_text>` in the system prompt) tells a story;
* the interviewer (a `submit_values_card` tool offered) asks two or three questions, then
  submits a card whose context is one of three shared contexts, sometimes copied from the
  list the prompt shows, more often paraphrased; one conversation in four first writes the
  card as prose in the chat and calls the tool only on the next turn;
* the simulated voter (`<story_text>`) mostly finds the upgrade wiser;
* the context proposer, the context judge, the card judge and the hypothesis writer answer
  from the script's own ground truth: which wording belongs to which context, which title to
  which value.

Which conversation gets which card follows from a hash of its first participant message, so a
run is repeatable for the same participants.

    python -m tests.fakes.openai_server --script study --port 8011
"""

import hashlib
import json
import re
import threading
from dataclasses import dataclass

from tests.fakes.openai_wire import Reply, Step, ToolCallReply

#: Each shared context: its short name, then the ways interviews paraphrase it.
CONTEXTS: list[tuple[str, ...]] = [
    (
        "When in distress",
        "When the user is in distress",
        "When the user feels overwhelmed and scared",
        "When someone is panicking about the choice",
    ),
    (
        "When seeking clarity",
        "When the user is seeking clarity",
        "When the user is confused about their options",
        "When someone wants to understand what to do",
    ),
    (
        "When being introspective",
        "When the user is reflecting on their own beliefs",
        "When the user questions what they value",
        "When someone looks inward before deciding",
    ),
]


@dataclass(frozen=True)
class Value:
    """A value the script's participants hold, with the titles its cards go by."""

    titles: tuple[str, ...]
    description: str
    policies: tuple[str, ...]


#: Two values per context; the second is the upgrade of the first.
VALUES: list[tuple[Value, Value]] = [
    (
        Value(
            ("Calming Reassurance", "Soothing Reassurance", "Calm Reassuring Presence"),
            "Helping the person feel calmer by reassuring them that things will be fine.",
            (
                "WORDS of comfort that ease the person's worry",
                "SIGNS that the person is calming down",
                "MOMENTS when reassurance lifts some of the weight",
            ),
        ),
        Value(
            ("Staying With Fear", "Sitting With Their Fear", "Being With Their Fear"),
            "Staying with what the person is afraid of until they can name it themselves.",
            (
                "FEARS the person has not yet said out loud",
                "MOMENTS when naming a fear makes it smaller",
                "SILENCES in which the person finds their own words",
            ),
        ),
    ),
    (
        Value(
            ("Clear Options Laid Out", "Laying Out Clear Options", "Clearly Listed Options"),
            "Making the choice manageable by setting out the options and their consequences.",
            (
                "OPTIONS the person may not have considered",
                "CONSEQUENCES of each path stated plainly",
                "FACTS the person needs before deciding",
            ),
        ),
        Value(
            ("Their Own Reasons", "Finding Their Own Reasons", "Hearing Their Own Reasons"),
            "Helping the person hear which of their reasons really move them.",
            (
                "REASONS the person returns to again and again",
                "MOMENTS when the person hears themselves think",
                "TENSIONS between what they say and what they feel",
            ),
        ),
    ),
    (
        Value(
            ("Respecting Inner Beliefs", "Honouring Inner Beliefs", "Respect For Beliefs"),
            "Taking the person's beliefs seriously and not arguing with them.",
            (
                "BELIEFS the person holds dear",
                "WORDS that show respect for their faith",
                "LIMITS the person sets on what they will discuss",
            ),
        ),
        Value(
            ("Living Faith Questions", "Faith As Living Question", "Questions Of Living Faith"),
            "Letting the person's faith be a living question they explore, not a rulebook.",
            (
                "QUESTIONS the person's faith raises for them now",
                "MOMENTS when belief and experience meet",
                "FREEDOM to doubt without leaving the tradition",
            ),
        ),
    ),
]
STORIES = [
    "When my sister faced this I mostly listened to her fears.",
    "A friend of mine was torn about it and we talked through the night.",
    "I remember being that age and feeling nobody would hear me out.",
    "At work I once helped a colleague who was stuck on a choice like this.",
    "My grandmother always said the answer comes when you stop rushing.",
]
FOLLOW_UPS = [
    "What I noticed most was how much calmer the person got once she felt heard.",
    "It mattered that the choice stayed with the person herself, not with me.",
    "Yes, that is right. Please go ahead and save that as my card.",
]
QUESTIONS = [
    "Thank you for sharing. What did you notice in that moment?",
    "What made that feel important to you, rather than just useful?",
    "I think I understand. Is there anything you would add?",
]
STORY = (
    "I used to think the most helpful thing was {before}. Then I sat with someone who "
    "needed more than that, and I saw that {after} was what really mattered: it kept what "
    "I cared about before, and it let the person find their own way through the choice."
)
_VALUE_BY_TITLE = {
    title.lower(): (group, rank) for group, pair in enumerate(VALUES)
    for rank, value in enumerate(pair) for title in value.titles
}  # fmt: skip
_GROUP_BY_CONTEXT = {name.lower(): group for group, names in enumerate(CONTEXTS) for name in names}
_FENCED = re.compile(r"<(\w+)_text>\n(.*?)\n</\1_text>", re.DOTALL)


class StudyScript:
    """The responder: `FakeOpenAIServer(responder=StudyScript())`."""

    def __init__(self, *, prose_every: int = 4, doubt_every: int = 5) -> None:
        self.prose_every, self.doubt_every = prose_every, doubt_every
        self.lock = threading.Lock()
        self.stories = 0
        self.votes = 0

    def __call__(self, request: dict) -> Step:
        messages = request.get("messages", [])
        system = str(messages[0].get("content", "")) if messages else ""
        user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
        tools = {t.get("function", {}).get("name") for t in request.get("tools") or []}
        if "<conversation_text>" in user:  # card articulation, after "Make my card"
            return self.articulation(request, user, system)
        if "submit_values_card" in tools or system.startswith("You are a friendly interviewer"):
            return self.interviewer(messages, system)
        if "<transcript_text>" in system:
            return self.participant(system)
        if "<story_text>" in system:
            return self.vote()
        if "<shown_text>" in user:  # the moderation judge: the script's own text is fit to show
            return Reply(json.dumps({"fit": True, "reason": "Respectful text about the question."}))
        if "The new context:" in user:
            return _judge(user, _GROUP_BY_CONTEXT)
        if "The new card:" in user:
            return _judge(user, _VALUE_BY_TITLE, titles=True)
        if "Contexts already listed" in user:
            return Reply(json.dumps({"contexts": [names[0] for names in CONTEXTS]}))
        if re.search(r"Value \d+:", user):
            return _hypotheses(user)
        return Reply("I am not sure what to say.")

    # --- the parts ---

    def participant(self, system: str) -> Reply:
        transcript = _fenced(system, "transcript")
        said = transcript.count("You: ")
        if said == 0:
            with self.lock:
                self.stories += 1
                number = self.stories
            return Reply(f"{STORIES[number % len(STORIES)]} (story {number})")
        return Reply(FOLLOW_UPS[min(said - 1, len(FOLLOW_UPS) - 1)])

    def interviewer(self, messages: list[dict], system: str) -> Step:
        if messages and messages[-1].get("role") == "tool":
            return Reply("Here is your card. Please change anything that does not sound like you.")
        spoken = [m for m in messages if m.get("role") == "user"]
        key = _key(str(spoken[0].get("content", "")) if spoken else "")
        card = self.card(key, _fenced(system, "context").splitlines())
        prose = self.prose_every and key % self.prose_every == self.prose_every - 1
        if len(spoken) >= 3 + bool(prose):
            text = "Thank you, I think I understand what matters to you here."
            return ToolCallReply("submit_values_card", json.dumps(card), text_before=text)
        if prose and len(spoken) == 3:
            return Reply(_as_prose(card))
        return Reply(QUESTIONS[min(len(spoken) - 1, len(QUESTIONS) - 1)])

    def articulation(self, request: dict, user: str, system: str) -> Step:
        """The card from the conversation, in whichever form the request asked for."""
        said = _fenced(user, "conversation").split("Participant: ", 1)[-1]
        first = said.split("\nInterviewer: ", 1)[0].strip()
        card = json.dumps(self.card(_key(first), _fenced(system, "context").splitlines()))
        if request.get("tool_choice"):
            return ToolCallReply("submit_values_card", card)
        return Reply(card)

    def card(self, key: int, listed: list[str]) -> dict:
        group, rank = key % len(CONTEXTS), (key // len(CONTEXTS)) % 2
        names = CONTEXTS[group]
        copy_listed = (key // 7) % 3 == 0 and names[0] in listed
        context = names[0] if copy_listed else names[1 + (key // 6) % (len(names) - 1)]
        value = VALUES[group][rank]
        return {
            "title": value.titles[(key // 2) % len(value.titles)],
            "description": value.description,
            "policies": list(value.policies),
            "context": context,
        }

    def vote(self) -> Reply:
        with self.lock:
            self.votes += 1
            doubt = self.doubt_every and self.votes % self.doubt_every == 0
        answer = "not_wiser" if doubt else "wiser"
        return Reply(json.dumps({"answer": answer, "reason": "B sees more of the person."}))


def _key(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _fenced(text: str, label: str) -> str:
    found = [body for name, body in _FENCED.findall(text) if name == label]
    return found[0] if found else ""


def _as_prose(card: dict) -> str:
    policies = "\n".join(f"- {policy}" for policy in card["policies"])
    return (
        f"Here is what I heard:\n\n**Title:** {card['title']}\n\n"
        f"**Description:** {card['description']}\n\n**Context:** {card['context']}\n\n"
        f"**Policies:**\n{policies}\n\nDoes that sound right?"
    )


def _blocks(user: str, label: str) -> list[tuple[str, str]]:
    """(heading, fenced body) pairs, in order: "Candidate 7:" and its text."""
    pattern = re.compile(rf"([^\n]+):\n<{label}_text>\n(.*?)\n</{label}_text>", re.DOTALL)
    return pattern.findall(user)


def _judge(user: str, truth: dict, *, titles: bool = False) -> Reply:
    """Name the candidate that the script's ground truth puts with the new item, or null."""
    label = "card" if titles else "context"
    blocks = _blocks(user, label)
    lookup = [(heading, _title(body) if titles else body.strip()) for heading, body in blocks]
    new = truth.get(lookup[0][1].lower()) if lookup else None
    for heading, text in lookup[1:]:
        number = re.search(r"(\d+)", heading)
        if new is not None and number and truth.get(text.lower()) == new:
            return Reply(json.dumps({"match": int(number[1]), "reason": "Same, in other words."}))
    return Reply(json.dumps({"match": None, "reason": "None of them is the same."}))


def _title(body: str) -> str:
    first = body.splitlines()[0] if body else ""
    return first.removeprefix("Title:").strip()


def _hypotheses(user: str) -> Reply:
    """An upgrade from each shown value of rank 0 to one of rank 1 in the same context."""
    shown = [
        (int(re.search(r"(\d+)", heading)[1]), _VALUE_BY_TITLE.get(_title(body).lower()))
        for heading, body in _blocks(user, "card")
        if re.search(r"\d+", heading)
    ]
    rows, used = [], set()
    for low_id, low in shown:
        for high_id, high in shown:
            if low and high and low[0] == high[0] and (low[1], high[1]) == (0, 1):
                if low_id in used:
                    continue
                used.add(low_id)
                before, after = VALUES[low[0]][0].description, VALUES[high[0]][1].description
                story = STORY.format(before=before.lower()[:-1], after=after.lower()[:-1])
                rows.append({"from_id": low_id, "to_id": high_id, "story": story})
    return Reply(json.dumps({"hypotheses": rows}))
