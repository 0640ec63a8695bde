"""Helpers shared by the security tests: a participant's browser and socket, as an attacker has."""

import json

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from config.asgi import application
from elicitation import services
from elicitation.models import Interview, Participant, ValuesCard
from tests.conftest import participant_cookie, participant_cookie_header

ORIGIN = (b"origin", b"http://testserver")
CARD = {
    "title": "Grounded Personal Discernment",
    "description": "Staying close to what she feels about the choice in front of her.",
    "policies": ["FEELINGS of unease", "MOMENTS of clarity", "OPPORTUNITIES to reflect"],
    "context": "When the user is facing a hard personal decision",
}


def browser(participant: Participant) -> Client:
    client = Client()
    client.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)
    return client


async def open_socket(interview: Interview, participant: Participant, origin=ORIGIN):
    headers = [participant_cookie_header(participant), origin]
    communicator = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "history"
    return communicator


async def send_raw_message(communicator, content_json: str, client_id: str = "m1") -> None:
    """A message frame whose content is written as raw JSON (so it may hold \\ud800 escapes)."""
    await communicator.send_to(
        text_data=f'{{"type": "message", "client_id": "{client_id}", "content": {content_json}}}'
    )


async def say(communicator, text: str, client_id: str) -> None:
    await communicator.send_to(
        text_data=json.dumps({"type": "message", "client_id": client_id, "content": text})
    )


def confirmed_card(participant: Participant, question) -> ValuesCard:
    interview = services.interview_start(participant=participant, question=question)
    card = services.card_draft_save(interview=interview, **CARD)
    return services.card_confirm(card=card)
