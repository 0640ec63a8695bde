"""Who may join a study, and as which participant: the one place a participant is created.

Three modes, chosen per study: an open link (throttled per client address), Prolific only
(PROLIFIC_PID plus the study's STUDY_ID; a PID belongs to the browser that first used it), and
single-use invite links. A refusal creates nothing and never hands out another person's record.
"""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from .access import study_open_check
from .models import Invite, Participant, Study, new_participant_token

INVITE_SALT = "mge.invite"
ID_MAX_LENGTH = 64
PROLIFIC_FIELDS = {
    "PROLIFIC_PID": "prolific_pid",
    "STUDY_ID": "prolific_study_id",
    "SESSION_ID": "prolific_session_id",
}

REFUSALS = {
    "prolific_only": "This study is open only to participants who come from Prolific. "
    "Please open it from the study link on Prolific.",
    "wrong_prolific_study": "This link belongs to another Prolific study. "
    "Please open the study from its own link on Prolific.",
    "id_too_long": "The Prolific ids in this link are not valid. "
    "Please open the study from its link on Prolific.",
    "pid_in_use": "This Prolific ID is already taking part from another browser or device. "
    "Please continue in the browser where you started, or message the researchers on Prolific.",
    "invite_needed": "This study is by invitation. Please use the personal link you were sent.",
    "invite_invalid": "This invite link is not valid. Please check that you copied all of it.",
    "invite_used": "This invite link was already used, from another browser. Each invite "
    "admits one person; please ask the researchers for a new one if you need it.",
    "too_many": "Too many people have joined from your network in the last hour. "
    "Please try again later.",
}


class AdmissionRefused(Exception):
    """Nobody is admitted; `code` picks the page, the text is safe to show."""

    def __init__(self, code: str) -> None:
        super().__init__(REFUSALS[code])
        self.code = code
        self.message = REFUSALS[code]


def invite_link_code(invite: Invite) -> str:
    return signing.Signer(salt=INVITE_SALT).sign(invite.token)


def invite_token_from(code: str) -> str | None:
    try:
        return signing.Signer(salt=INVITE_SALT).unsign(code)
    except signing.BadSignature:
        return None


def recruitment_fields(recruitment: dict[str, str]) -> dict[str, str]:
    """Prolific's ids as model fields; an id longer than we store is refused, never cut."""
    fields = {
        field: str(recruitment[key])
        for key, field in PROLIFIC_FIELDS.items()
        if recruitment.get(key)
    }
    if any(len(value) > ID_MAX_LENGTH for value in fields.values()):
        raise AdmissionRefused("id_too_long")
    return fields


def visit_refusal(*, study: Study, recruitment: dict[str, str], invite_code: str) -> str | None:
    """A refusal that can be told on the landing page already, before anything is written."""
    try:
        fields = recruitment_fields(recruitment)
        _mode_check(study, fields, invite_code)
    except AdmissionRefused as refused:
        return refused.code
    return None


def participant_admit(
    *,
    study: Study,
    recruitment: dict[str, str],
    invite_code: str = "",
    current: Participant | None = None,
    client_hash: str = "",
) -> Participant:
    """The participant this browser is in `study`: its own (`current`), a Prolific record
    released to it, or a new one, as the study's admission mode allows. Raises
    AdmissionRefused (nothing written) or access.WriteRefused (study not open)."""
    study_open_check(study)
    fields = recruitment_fields(recruitment)
    pid = fields.get("prolific_pid", "")
    if current is not None and current.study_id == study.pk and current.prolific_pid == pid:
        return current
    if current is not None and current.study_id == study.pk and not pid:
        return current
    _mode_check(study, fields, invite_code)
    with transaction.atomic():
        # One admission at a time per study: the PID, invite and throttle checks cannot race.
        list(Study.objects.select_for_update().filter(pk=study.pk).values("pk"))
        if pid:
            existing = Participant.objects.filter(study=study, prolific_pid=pid).first()
            if existing is not None:
                return _rebind(existing)
        if study.admission == Study.Admission.INVITE:
            return _admit_invitee(study, fields, invite_code, client_hash)
        if study.admission == Study.Admission.OPEN_LINK:
            _throttle_check(study, client_hash)
        return Participant.objects.create(study=study, client_hash=client_hash, **fields)


def _mode_check(study: Study, fields: dict[str, str], invite_code: str) -> None:
    if study.admission == Study.Admission.PROLIFIC:
        if not fields.get("prolific_pid") or not fields.get("prolific_study_id"):
            raise AdmissionRefused("prolific_only")
        if fields["prolific_study_id"] != study.prolific_study_id:
            raise AdmissionRefused("wrong_prolific_study")
    if study.admission == Study.Admission.INVITE:
        if not invite_code:
            raise AdmissionRefused("invite_needed")
        token = invite_token_from(invite_code)
        invite = Invite.objects.filter(study=study, token=token or "").first()
        if invite is None:
            raise AdmissionRefused("invite_invalid")
        if invite.used_at is not None:
            raise AdmissionRefused("invite_used")


def _rebind(existing: Participant) -> Participant:
    """A PID another browser holds: refused, unless an organizer released it to the next one.
    The new token logs the earlier browser out of the record."""
    if not existing.pid_released:
        raise AdmissionRefused("pid_in_use")
    existing.pid_released = False
    existing.token = new_participant_token()
    existing.save(update_fields=["pid_released", "token"])
    return existing


def _admit_invitee(study: Study, fields: dict, invite_code: str, client_hash: str) -> Participant:
    token = invite_token_from(invite_code) or ""
    claimed = Invite.objects.filter(study=study, token=token, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if not claimed:
        raise AdmissionRefused("invite_used")
    participant = Participant.objects.create(study=study, client_hash=client_hash, **fields)
    Invite.objects.filter(study=study, token=token).update(participant=participant)
    return participant


def _throttle_check(study: Study, client_hash: str) -> None:
    """At most MGE_ADMISSIONS_PER_CLIENT_PER_HOUR new participants per client address."""
    if not client_hash:
        return
    since = timezone.now() - timedelta(hours=1)
    recent = Participant.objects.filter(study=study, client_hash=client_hash, created_at__gte=since)
    if recent.count() >= settings.MGE_ADMISSIONS_PER_CLIENT_PER_HOUR:
        raise AdmissionRefused("too_many")


def participant_pid_release(*, participant: Participant) -> Participant:
    """Let the next browser that brings this participant's Prolific PID take the record over."""
    participant.pid_released = True
    participant.save(update_fields=["pid_released"])
    return participant


def invites_create(*, study: Study, count: int) -> list[Invite]:
    return Invite.objects.bulk_create(Invite(study=study) for _ in range(count))
