"""Who may see what: the participant behind a request or socket, and what they may open."""

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse

from .hygiene import bounded_id
from .models import Interview, Participant, Study

COOKIE_SALT = "mge.participant"


class WriteRefused(Exception):
    """A participant write the study does not take; retrying cannot help. `code` is stable
    (websocket error code, template choice), the text is safe to show the participant."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


STUDY_CLOSED = "study_closed"
NOT_CONSENTED = "not_consented"
WITHDRAWN = "withdrawn"
REFUSALS = {
    STUDY_CLOSED: "This study is closed and no longer takes answers. Thank you for your time.",
    NOT_CONSENTED: "Please read and agree to the consent information first.",
    WITHDRAWN: "You withdrew from this study, so it keeps nothing more from you.",
}


def write_refusal(*, state: str, consented: bool, withdrawn: bool) -> str | None:
    """Why a participant in this position may not write, or None when they may. A draft study
    admits nobody, so its only participants are simulated ones, which may write."""
    if state == Study.State.CLOSED:
        return STUDY_CLOSED
    if withdrawn:
        return WITHDRAWN
    if not consented:
        return NOT_CONSENTED
    return None


def participant_write_check(participant: Participant) -> None:
    """Raise WriteRefused unless the participant may write now: the study is open, they
    consented and have not withdrawn. Read fresh from the database, so a study closed after a
    socket connected or a page loaded is closed for its next write too."""
    row = (
        Participant.objects.filter(pk=participant.pk)
        .values_list("study__state", "consented_at", "withdrawn_at")
        .first()
    )
    state, consented_at, withdrawn_at = row or ("", None, None)
    code = write_refusal(
        state=state, consented=consented_at is not None, withdrawn=withdrawn_at is not None
    )
    if code:
        raise WriteRefused(code, REFUSALS[code])


def study_open_check(study: Study, *, drafts: bool = False) -> None:
    """Raise WriteRefused unless the study, read fresh, is open (or, with `drafts`, a draft):
    admission needs an open study; consent also takes a draft's simulated participants."""
    states = [Study.State.OPEN, Study.State.DRAFT] if drafts else [Study.State.OPEN]
    if not Study.objects.filter(pk=study.pk, state__in=states).exists():
        raise WriteRefused(STUDY_CLOSED, REFUSALS[STUDY_CLOSED])


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


def forget_participant(response: HttpResponse) -> None:
    response.delete_cookie(settings.MGE_PARTICIPANT_COOKIE, samesite="Lax")


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
