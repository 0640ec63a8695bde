"""The fake server's scripted study answers each part in varied words, from its ground truth."""

import json

from tests.fakes.openai_wire import Reply, ToolCallReply
from tests.fakes.study_script import CONTEXTS, StudyScript

TOOLS = [{"type": "function", "function": {"name": "submit_values_card"}}]


def interview(first: str, turns: int, listed: str = "") -> dict:
    system = f"Interview.\n<context_text>\n{listed}\n</context_text>"
    messages = [{"role": "system", "content": system}]
    for number in range(turns):
        messages += [{"role": "assistant", "content": "q"}]
        messages += [{"role": "user", "content": first if number == 0 else "more"}]
    return {"messages": messages, "tools": TOOLS}


def test_every_conversation_ends_in_a_card_and_some_write_it_as_prose_first():
    script = StudyScript()
    prose, contexts = 0, set()
    for number in range(40):
        first = f"My story (story {number})"
        replies = [script(interview(first, turns)) for turns in range(1, 5)]
        card = next(r for r in replies if isinstance(r, ToolCallReply))
        contexts.add(json.loads(card.arguments_json)["context"])
        prose += any(isinstance(r, Reply) and "**Title:**" in r.text for r in replies)
    assert 5 <= prose <= 15
    assert len(contexts) >= 8  # paraphrased, not three fixed strings


def test_a_listed_context_is_sometimes_copied_exactly():
    script = StudyScript()
    listed = "\n".join(names[0] for names in CONTEXTS)

    cards = [script(interview(f"story {n}", 4, listed)) for n in range(30)]

    copied = [c for c in cards if json.loads(c.arguments_json)["context"] in listed.splitlines()]
    assert 0 < len(copied) < len(cards)


def test_the_context_judge_names_the_candidate_of_the_same_context():
    user = (
        "The new context:\n<context_text>\nWhen the user feels overwhelmed and scared\n"
        "</context_text>\n\nCandidate 4:\n<context_text>\nWhen seeking clarity\n</context_text>"
        "\n\nCandidate 9:\n<context_text>\nWhen in distress\n</context_text>"
    )

    reply = StudyScript()(
        {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": user}]}
    )

    assert json.loads(reply.text)["match"] == 9


def test_hypotheses_go_from_the_plainer_value_to_its_upgrade():
    blocks = [
        "Value 3:\n<card_text>\nTitle: Soothing Reassurance\nDescription: d\n</card_text>",
        "Value 5:\n<card_text>\nTitle: Being With Their Fear\nDescription: d\n</card_text>",
    ]
    user = "The context:\n<context_text>\nWhen in distress\n</context_text>\n\n" + "\n\n".join(
        blocks
    )

    reply = StudyScript()(
        {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": user}]}
    )

    [row] = json.loads(reply.text)["hypotheses"]
    assert (row["from_id"], row["to_id"]) == (3, 5) and len(row["story"]) >= 200
