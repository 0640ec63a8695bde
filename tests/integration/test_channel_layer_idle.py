"""On the Redis channel layer an interview socket may sit idle longer than the layer's blocking
read (5 s) and still work: the layer's read timeout must outlast it."""

import asyncio
import os

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from elicitation import services
from tests.conftest import participant_cookie_header

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (Redis layer)"),
]


@pytest.fixture
def interview(participant, question):
    return services.interview_start(participant=participant, question=question)


async def test_an_interview_socket_idle_for_longer_than_the_layer_poll_still_answers(
    interview, participant
):
    headers = [participant_cookie_header(participant), (b"origin", b"http://testserver")]
    communicator = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)
    assert (await communicator.connect(timeout=5))[0]
    await communicator.receive_json_from(timeout=5)

    await asyncio.sleep(12)  # two of the layer's 5 s blocking reads, and some
    await communicator.send_json_to({"type": "ping"})

    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.disconnect()
