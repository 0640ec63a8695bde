"""A structured answer (judge, vote, hypotheses) through the real client and the fake server: an
answer cut off at its token cap is sent back once, saying so, and never parsed as it is."""

import json

import pytest

from elicitation.llm.client import CallTag
from elicitation.llm.errors import LLMOutputInvalid
from moralgraph.llm import STRUCTURED_MAX_TOKENS, ask_structured
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)

TAG = CallTag(purpose="simulated_vote", prompt_name="simulated_vote", prompt_version="1-abc")
ASK = [{"role": "user", "content": "Is B wiser? Reply with a JSON object."}]
RUNAWAY = '{"answer": "wiser", "reason": "B' + " sees more" * 2_000


def parse(text: str) -> dict:
    try:
        return json.loads(text)
    except ValueError as error:
        raise LLMOutputInvalid(f"Not JSON: {error}") from error


def test_an_answer_cut_off_at_its_cap_is_asked_again_saying_it_was_cut_off(fake_llm, llm_settings):
    fake_llm.script(Reply(RUNAWAY), Reply('{"answer": "wiser", "reason": "B sees more."}'))

    answer = ask_structured(ASK, tag=TAG, parse=parse)

    first, second = fake_llm.requests
    assert answer == {"answer": "wiser", "reason": "B sees more."}
    assert first["max_tokens"] == second["max_tokens"] == STRUCTURED_MAX_TOKENS
    assert "cut off at 512 tokens" in second["messages"][-1]["content"]


def test_two_runaway_answers_end_in_an_unusable_answer_not_a_long_wait(fake_llm, llm_settings):
    fake_llm.script(Reply(RUNAWAY), Reply(RUNAWAY))

    with pytest.raises(LLMOutputInvalid, match="cut off"):
        ask_structured(ASK, tag=TAG, parse=parse, max_tokens=64)
    assert [r["max_tokens"] for r in fake_llm.requests] == [64, 64]
