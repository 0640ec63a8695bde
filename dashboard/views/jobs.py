"""Background jobs of a study: the list with start forms, one job's page, and its status as JSON."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from ..access import staff_view, study_for
from ..job_kinds import export_archive
from ..jobs import MAX_PARTICIPANTS, JobError, job_start
from ..models import Job

LISTED = 50


@staff_view
def job_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    context = {
        "study": study,
        "section": "jobs",
        "jobs": Job.objects.filter(study=study).select_related("created_by")[:LISTED],
        "max_participants": MAX_PARTICIPANTS,
    }
    return render(request, "dashboard/jobs.html", context)


@staff_view
@require_POST
def job_start_view(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    kind = request.POST.get("kind", "")
    try:
        job = job_start(
            study=study, kind=kind, params=_params(kind, request.POST), user=request.user
        )
    except JobError as error:
        messages.error(request, str(error))
        return redirect("dashboard:exports" if kind == Job.Kind.EXPORT else "dashboard:jobs", slug)
    return redirect("dashboard:job", slug, job.pk)


@staff_view
def job_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    study = study_for(slug)
    job = get_object_or_404(Job.objects.select_related("created_by"), pk=pk, study=study)
    context = {
        "study": study,
        "section": "exports" if job.kind == Job.Kind.EXPORT else "jobs",
        "job": job,
        "downloadable": export_archive(job) is not None,
    }
    return render(request, "dashboard/job.html", context)


@staff_view
def job_status(request: HttpRequest, slug: str, pk: int) -> JsonResponse:
    job = get_object_or_404(Job, pk=pk, study=study_for(slug))
    return JsonResponse(job_json(job))


def job_json(job: Job) -> dict[str, Any]:
    """The job's row for scripts (an aggregation's result names its stored graph build)."""
    return {
        "id": job.pk,
        "kind": job.kind,
        "label": job.get_kind_display(),
        "state": job.state,
        "stale": job.is_stale,
        "percent": job.percent,
        "progress_done": job.progress_done,
        "progress_total": job.progress_total,
        "message": job.message,
        "error": job.error,
        "params": job.params,
        "result": job.result,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at and job.started_at.isoformat(),
        "finished_at": job.finished_at and job.finished_at.isoformat(),
    }


def _params(kind: str, data: QueryDict) -> dict[str, Any]:
    """Form fields to the job's parameters; `job_start` judges their values."""
    if kind == Job.Kind.SIMULATE:
        text = data.get("participants", "").strip()
        return {"participants": int(text) if text.isdigit() else text}
    if kind == Job.Kind.HYPOTHESES:
        return {"force": bool(data.get("force"))}
    if kind == Job.Kind.EXPORT:
        earlier = data.get("compare_with", "").strip()
        compare = (
            {"compare_with": int(earlier) if earlier.isdigit() else earlier} if earlier else {}
        )
        return {"include_votes": bool(data.get("include_votes"))} | compare
    return {}


urls = [
    path("s/<slug:slug>/jobs/", job_list, name="jobs"),
    path("s/<slug:slug>/jobs/start/", job_start_view, name="job_start"),
    path("s/<slug:slug>/jobs/<int:pk>/", job_detail, name="job"),
    path("s/<slug:slug>/jobs/<int:pk>/status/", job_status, name="job_status"),
]
