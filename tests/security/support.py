"""Helpers for the attack replays: browsers and sockets as an attacker has them, and the work a
participant does."""

import json

from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from config.asgi import application
from elicitation import services
from elicitation.models import Interview, Participant, ValuesCard
from tests.conftest import participant_cookie, participant_cookie_header

REAL_CARD = {
    "title": "Finding Her Own Footing",
    "description": "Helping someone hear what they already feel about their choice.",
    "policies": [
        "FEELINGS that point to what she wants",
        "MOMENTS of quiet clarity",
        "OPPORTUNITIES to speak her reasons aloud",
    ],
    "context": "When the user is facing a hard personal decision",
}
# Passes the card's format checks (2-8 title words, 3-8 policies, a "When" context): dots and
# single letters, as the attacker sent them.
JUNK_CARD_FORM = {
    "title": ". . .",
    "description": "a b",
    "context": "When x",
    "policies": "a\nb\nc",
}


def url(name: str, **kwargs) -> str:
    return reverse(f"elicitation:{name}", kwargs=kwargs)


def browser(participant: Participant | None = None, address: str = "203.0.113.7") -> Client:
    """A browser at `address`, holding `participant`'s cookie when given."""
    client = Client(REMOTE_ADDR=address)
    if participant is not None:
        client.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)
    return client


def card_form(card: dict, **extra) -> dict:
    return {**card, "policies": "\n".join(card["policies"]), **extra}


def chat(interview: Interview, messages: int) -> None:
    for n in range(messages):
        services.interview_message_add(
            interview=interview, client_id=f"chat-{n}", content="It reminds me of my sister."
        )


def confirmed_interview_card(participant: Participant, question, messages: int = 2) -> ValuesCard:
    interview = services.interview_start(participant=participant, question=question)
    chat(interview, messages)
    card = services.card_draft_save(interview=interview, **REAL_CARD)
    return services.card_confirm(card=card)


def hypotheses(study, count: int = 4) -> list:
    """`count` upgrades between values in the real card's context, for participants to judge."""
    from moralgraph.models import CanonicalValue, UpgradeHypothesis

    context = services.context_get_or_create(study=study, name=REAL_CARD["context"])
    values = [
        CanonicalValue.objects.create(
            study=study, title=f"Value {n}", description="About it.", policies=["MOMENTS of it"]
        )
        for n in range(count + 1)
    ]
    return [
        UpgradeHypothesis.objects.create(
            study=study, context=context, from_value=a, to_value=b, story="I came to see more."
        )
        for a, b in zip(values, values[1:], strict=False)
    ]


ORIGIN = (b"origin", b"http://testserver")
CARD = {
    "title": "Grounded Personal Discernment",
    "description": "Staying close to what she feels about the choice in front of her.",
    "policies": ["FEELINGS of unease", "MOMENTS of clarity", "OPPORTUNITIES to reflect"],
    "context": "When the user is facing a hard personal decision",
}


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
