"""The organizer leaves a cohort of flagged raters out of graph builds, or takes it back in."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_POST

from moralgraph import services

from ..access import staff_view, study_for


@staff_view
@require_POST
def rater_exclusion(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    kind, value = request.POST.get("kind", ""), request.POST.get("value", "")
    excluded = request.POST.get("action") != "include"
    try:
        services.rater_exclusion_set(study=study, kind=kind, value=value, excluded=excluded)
    except ValueError as refusal:
        messages.error(request, str(refusal))
    else:
        verb = "left out of" if excluded else "taken back into"
        messages.success(request, f"Cohort {kind} {value[:10]} {verb} the next graph build.")
    return redirect("dashboard:reports", slug=study.slug)


urls = [
    path("s/<slug:slug>/reports/exclusions/", rater_exclusion, name="rater_exclusion"),
]
