"""The interview socket counts itself in the live-interviews and turns-in-flight gauges."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from prometheus_client import REGISTRY

from config.asgi import application
from elicitation import services
from tests.conftest import participant_cookie_header
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture
def interview(participant, question):
    return services.interview_start(participant=participant, question=question)


def gauge(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_an_open_interview_socket_is_live_until_it_closes(
    interview, participant, llm_settings
):
    before = gauge("mge_live_interviews")
    headers = [participant_cookie_header(participant), ORIGIN]
    communicator = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)
    assert (await communicator.connect(timeout=5))[0]

    assert gauge("mge_live_interviews") == before + 1
    await communicator.disconnect()
    assert gauge("mge_live_interviews") == before


async def test_a_refused_socket_is_never_counted_live(interview, other_participant):
    before = gauge("mge_live_interviews")
    headers = [participant_cookie_header(other_participant), ORIGIN]
    communicator = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)

    assert not (await communicator.connect(timeout=5))[0]
    await communicator.disconnect()
    assert gauge("mge_live_interviews") == before


async def test_a_streaming_turn_is_in_flight_until_its_reply_ends(
    interview, participant, fake_llm, llm_settings
):
    fake_llm.token_delay = 0.02
    fake_llm.script(Reply("Tell me about a time this mattered to you, slowly."))
    headers = [participant_cookie_header(participant), ORIGIN]
    communicator = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)
    await communicator.connect(timeout=5)
    await communicator.receive_json_from(timeout=5)
    before = gauge("mge_turns_in_flight")

    await communicator.send_json_to({"type": "message", "client_id": "m1", "content": "Hi."})
    seen_in_flight = 0.0
    while (await communicator.receive_json_from(timeout=10))["type"] != "reply_end":
        seen_in_flight = max(seen_in_flight, gauge("mge_turns_in_flight"))
    await asyncio.sleep(0.05)

    assert seen_in_flight == before + 1
    assert gauge("mge_turns_in_flight") == before
    await communicator.disconnect()
