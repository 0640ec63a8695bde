"""Who may join a study: its invite links (made here, downloaded as CSV) and the release of a
Prolific PID bound to a browser the participant no longer has."""

import csv

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from elicitation import admission
from elicitation.models import Invite, Participant, Study

from ..access import staff_view, study_for

MAX_INVITES_AT_ONCE = 1000


class InvitesForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=MAX_INVITES_AT_ONCE, label="New invites")


class ReleaseForm(forms.Form):
    pid = forms.CharField(max_length=admission.ID_MAX_LENGTH, label="Prolific PID")


@staff_view
def admission_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    invites = study.invites.all()
    context = {
        "study": study,
        "section": "settings",
        "invites_total": invites.count(),
        "invites_used": invites.filter(used_at__isnull=False).count(),
        "invites_form": InvitesForm(),
        "release_form": ReleaseForm(),
        "released": study.participants.filter(pid_released=True).exclude(prolific_pid=""),
    }
    return render(request, "dashboard/admission.html", context)


@staff_view
@require_POST
def invites_create(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    form = InvitesForm(request.POST)
    if form.is_valid():
        made = admission.invites_create(study=study, count=form.cleaned_data["count"])
        messages.success(request, f"Made {len(made)} invite links; download them as CSV.")
    else:
        messages.error(request, f"Make between 1 and {MAX_INVITES_AT_ONCE} invites at a time.")
    return redirect("dashboard:admission", slug=study.slug)


@staff_view
def invites_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """Every invite of the study: its link, and whether someone used it."""
    study = study_for(slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-invites.csv"'
    writer = csv.writer(response)
    writer.writerow(["invite", "link", "used_at"])
    for invite in study.invites.all():
        used = invite.used_at.isoformat() if invite.used_at else ""
        writer.writerow([invite.pk, invite_link(request, study, invite), used])
    return response


def invite_link(request: HttpRequest, study: Study, invite: Invite) -> str:
    landing = reverse("elicitation:landing", kwargs={"slug": study.slug})
    return request.build_absolute_uri(f"{landing}?invite={admission.invite_link_code(invite)}")


@staff_view
@require_POST
def pid_release(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    form = ReleaseForm(request.POST)
    pid = form.cleaned_data["pid"].strip() if form.is_valid() else ""
    participant = Participant.objects.filter(study=study, prolific_pid=pid).first() if pid else None
    if participant is None:
        messages.error(request, "No participant of this study has that Prolific PID.")
    else:
        admission.participant_pid_release(participant=participant)
        messages.success(request, f"The next browser that brings {pid} takes over its record.")
    return redirect("dashboard:admission", slug=study.slug)


urls = [
    path("s/<slug:slug>/admission/", admission_page, name="admission"),
    path("s/<slug:slug>/admission/invites/", invites_create, name="invites_create"),
    path("s/<slug:slug>/admission/invites.csv", invites_csv, name="invites_csv"),
    path("s/<slug:slug>/admission/release/", pid_release, name="pid_release"),
]
