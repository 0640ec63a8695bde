"""Exports of a study's alignment target: the start form, past exports, and their download."""

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path

from moralgraph.models import GraphBuild

from ..access import staff_view, study_for
from ..job_kinds import export_archive
from ..models import Job

LISTED = 50


@staff_view
def export_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    exports = Job.objects.filter(study=study, kind=Job.Kind.EXPORT).select_related("created_by")
    context = {
        "study": study,
        "section": "exports",
        "exports": exports[:LISTED],
        "salt_configured": bool(settings.MGE_EXPORT_SALT),
        "earlier_builds": GraphBuild.objects.filter(study=study)
        .order_by("-built_at", "-id")
        .only("pk", "label", "built_at")[1:LISTED],
    }
    return render(request, "dashboard/exports.html", context)


@staff_view
def export_download(request: HttpRequest, slug: str, pk: int) -> FileResponse:
    study = study_for(slug)
    job = get_object_or_404(Job, pk=pk, study=study, kind=Job.Kind.EXPORT, state=Job.State.DONE)
    archive = export_archive(job)
    if archive is None:
        raise Http404("This export's file is gone; export again.")
    return FileResponse(archive.open("rb"), as_attachment=True, filename=archive.name)


urls = [
    path("s/<slug:slug>/exports/", export_list, name="exports"),
    path("s/<slug:slug>/exports/<int:pk>/download/", export_download, name="export_download"),
]
