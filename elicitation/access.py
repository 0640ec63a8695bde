"""Who may see what: the participant behind a request or socket, and what they may open."""

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse

from .hygiene import bounded_id
from .models import Interview, Participant

COOKIE_SALT = "mge.participant"


def participant_from_cookie_value(value: str | None) -> Participant | None:
    """The participant whose signed token is `value`, or None when absent or tampered with."""
    if not value:
        return None
    try:
        token = _signer().unsign(value, max_age=settings.MGE_PARTICIPANT_COOKIE_MAX_AGE)
    except signing.BadSignature:
        return None
    return Participant.objects.select_related("study").filter(token=token).first()


def participant_for_request(request: HttpRequest) -> Participant | None:
    return participant_from_cookie_value(request.COOKIES.get(settings.MGE_PARTICIPANT_COOKIE))


def remember_participant(response: HttpResponse, participant: Participant) -> None:
    response.set_cookie(
        settings.MGE_PARTICIPANT_COOKIE,
        signed_token(participant),
        max_age=settings.MGE_PARTICIPANT_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=not settings.DEBUG and settings.SESSION_COOKIE_SECURE,
    )


def signed_token(participant: Participant) -> str:
    return _signer().sign(participant.token)


def _signer() -> signing.TimestampSigner:
    return signing.get_cookie_signer(salt=COOKIE_SALT)


def interview_for_participant(participant: Participant | None, interview_id: int) -> Interview:
    """The participant's own interview; anybody else's is a 404, never a hint it exists."""
    interview_id = bounded_id(interview_id)
    if participant is None or interview_id is None:
        raise Http404("No such interview.")
    interview = (
        Interview.objects.select_related("question", "participant__study")
        .filter(pk=interview_id, participant=participant)
        .first()
    )
    if interview is None:
        raise Http404("No such interview.")
    return interview
