"""Capability checks against the fake server: what works is found, stored and then used."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from elicitation.capabilities import endpoint_check
from elicitation.models import LLMCall, LLMEndpoint
from tests.fakes.openai_server import Error, Reply, ToolCallReply

pytestmark = pytest.mark.django_db(transaction=True)
ANSWER = json.dumps({"answer": "blue"})


def test_an_endpoint_that_does_everything_is_stored_as_such(fake_llm, llm_settings):
    fake_llm.script(
        Reply("Blue."),  # plain
        Reply("Blue."),  # streaming
        ToolCallReply("record_answer", ANSWER),  # tools, auto
        ToolCallReply("record_answer", ANSWER),  # forced tool
        Reply(ANSWER),  # json schema
    )

    report = endpoint_check()

    assert report.found == dict.fromkeys(("streaming", "tools", "forced_tool", "json_schema"), True)
    stored = LLMEndpoint.objects.get(base_url=fake_llm.base_url, model="fake-model")
    assert (stored.streaming, stored.tools, stored.forced_tool, stored.json_schema) == (
        True,
        True,
        True,
        True,
    )
    assert stored.checked_at is not None
    forced, schema = fake_llm.requests[3], fake_llm.requests[4]
    assert forced["tool_choice"]["function"]["name"] == "record_answer"
    assert schema["response_format"]["type"] == "json_schema"
    assert all(request["max_tokens"] == 60 for request in fake_llm.requests)


def test_a_refused_format_an_ignored_tool_and_a_server_error_count_as_missing(
    fake_llm, llm_settings
):
    fake_llm.script(
        Reply("Blue."),
        Reply("Blue."),
        Reply("Blue."),  # tools: answered in text instead
        Error(500),  # forced tool: not retried
        Error(400),  # json schema refused
    )

    report = endpoint_check()

    assert report.found == {
        "streaming": True,
        "tools": False,
        "forced_tool": False,
        "json_schema": False,
    }
    assert "without calling the tool" in report.notes["tools"]
    assert len(fake_llm.requests) == 5
    assert LLMEndpoint.objects.get().json_schema is False
    assert LLMCall.objects.filter(purpose="llm_check").count() == 5


def test_an_unreachable_endpoint_stores_nothing_and_the_command_says_so(fake_llm, llm_settings):
    fake_llm.script(Error(401))

    with pytest.raises(CommandError, match="did not answer a plain request"):
        call_command("llm_check")

    assert not LLMEndpoint.objects.exists()


def test_the_command_prints_what_works_for_a_studys_model(fake_llm, llm_settings, study):
    study.llm_model = "study-model"
    study.save(update_fields=["llm_model"])
    fake_llm.script(
        Reply("Blue."),
        Reply("Blue."),
        ToolCallReply("record_answer", ANSWER),
        ToolCallReply("record_answer", ANSWER),
        Error(500),
    )
    out = StringIO()

    call_command("llm_check", "--study", study.slug, stdout=out)

    assert "study-model at http://127.0.0.1" in out.getvalue()
    assert "  forced_tool: yes" in out.getvalue()
    assert "  json_schema: no (llm_unavailable" in out.getvalue()
    assert LLMEndpoint.objects.get(model="study-model").forced_tool is True


def test_an_endpoint_known_not_to_take_tools_gets_none_in_the_interview(
    fake_llm, llm_settings, participant, question
):
    from asgiref.sync import async_to_sync

    from elicitation import services
    from elicitation.interviewer import interviewer_turn

    LLMEndpoint.objects.create(base_url=fake_llm.base_url, model="fake-model", tools=False)
    interview = services.interview_start(participant=participant, question=question)
    services.interview_message_add(interview=interview, client_id="c1", content="My story.")
    frames = []

    async def send(frame):
        frames.append(frame)

    async_to_sync(interviewer_turn)(interview, send)

    assert frames[-1]["type"] == "reply_end"
    request = fake_llm.requests[-1]
    assert "tools" not in request
    system = request["messages"][0]["content"]
    assert '"Make my card"' in system
    assert "submit_values_card" not in system and "Card rules" not in system


def test_an_endpoint_that_takes_tools_gets_the_card_tool_and_its_rules_in_the_prompt(
    fake_llm, llm_settings, participant, question
):
    from asgiref.sync import async_to_sync

    from elicitation import services
    from elicitation.interviewer import interviewer_turn

    interview = services.interview_start(participant=participant, question=question)
    services.interview_message_add(interview=interview, client_id="c1", content="My story.")

    async def send(frame):
        pass

    async_to_sync(interviewer_turn)(interview, send)

    request = fake_llm.requests[-1]
    system = request["messages"][0]["content"]
    assert request["tools"][0]["function"]["name"] == "submit_values_card"
    assert "submit_values_card" in system and "Make my card" not in system
    interview.refresh_from_db()
    assert "+card_tool-1-" in interview.prompt_version


def test_the_settings_page_offers_the_check_and_shows_the_stored_result(
    client, organizer, study, fake_llm, llm_settings
):
    LLMEndpoint.objects.create(
        base_url=fake_llm.base_url,
        model="fake-model",
        tools=True,
        json_schema=False,
        checked_at=timezone.now(),
    )
    client.force_login(organizer)

    page = client.get(reverse("dashboard:study_edit", args=[study.slug])).content.decode()

    assert "Test the LLM" in page
    assert 'value="llm_check"' in page
    assert "tool calls yes" in page and "JSON-schema output no" in page
    assert "forced tool choice unknown" in page
