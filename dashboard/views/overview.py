"""The study list, a study's live overview, and its reliability and bridging reports."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from elicitation.models import Study

from .. import reports
from ..access import staff_view, study_for
from ..cadence import study_pending
from ..progress import study_progress


@staff_view
def study_list(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.order_by("-created_at")
    return render(request, "dashboard/study_list.html", {"studies": studies})


@staff_view
def study_overview(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    context = {
        "study": study,
        "progress": study_progress(study),
        "pending": study_pending(study),
        "links": reports.study_links(request, study),
        "section": "overview",
    }
    return render(request, "dashboard/overview.html", context)


@staff_view
def study_reports(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    context = {"study": study, "report": reports.latest_report(study), "section": "reports"}
    return render(request, "dashboard/reports.html", context)


urls = [
    path("", study_list, name="study_list"),
    path("s/<slug:slug>/", study_overview, name="overview"),
    path("s/<slug:slug>/reports/", study_reports, name="reports"),
]
