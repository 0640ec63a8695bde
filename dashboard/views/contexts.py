"""A study's canonical contexts per question: the organizer seeds them, asks the model to
propose them, and merges contexts that mean the same."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from moralgraph import context_services

from .. import selectors
from ..access import staff_view, study_for
from ..cadence import study_pending
from ..forms import ContextMergeForm, ContextSeedForm
from ..jobs import JobError, job_start
from ..models import Job


@staff_view
def context_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    context = {
        "study": study,
        "questions": selectors.study_contexts(study),
        "merge_form": ContextMergeForm(study=study),
        "pending": study_pending(study),
        "section": "contexts",
    }
    return render(request, "dashboard/contexts.html", context)


@staff_view
@require_POST
def context_seed(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    form = ContextSeedForm(request.POST, study=study)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return redirect("dashboard:contexts", slug=slug)
    try:
        added = context_services.contexts_seed(
            question=form.cleaned_data["question"], names=form.cleaned_data["names"]
        )
    except ValueError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"{len(added)} context(s) listed for the question.")
    return redirect("dashboard:contexts", slug=slug)


@staff_view
@require_POST
def context_propose(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    try:
        job = job_start(study=study, kind=Job.Kind.CONTEXTS, user=request.user)
    except JobError as refusal:
        messages.error(request, str(refusal))
        return redirect("dashboard:contexts", slug=slug)
    return redirect("dashboard:job", slug=slug, pk=job.pk)


@staff_view
@require_POST
def context_merge(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    form = ContextMergeForm(request.POST, study=study)
    if not form.is_valid():
        messages.error(request, _errors(form))
        return redirect("dashboard:contexts", slug=slug)
    target, sources = form.cleaned_data["target"], form.cleaned_data["sources"]
    try:
        context_services.contexts_merge(target=target, sources=sources)
    except ValueError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Merged {len(sources)} context(s) into “{target}”.")
    return redirect("dashboard:contexts", slug=slug)


def _errors(form) -> str:
    return " ".join(error for errors in form.errors.values() for error in errors)


urls = [
    path("s/<slug:slug>/contexts/", context_list, name="contexts"),
    path("s/<slug:slug>/contexts/seed/", context_seed, name="context_seed"),
    path("s/<slug:slug>/contexts/propose/", context_propose, name="context_propose"),
    path("s/<slug:slug>/contexts/merge/", context_merge, name="context_merge"),
]
