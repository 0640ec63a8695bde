"""The moderation queue: new values and stories that no check passed wait here until the
organizer approves or rejects them; voters see neither until then."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from moralgraph import selectors, services

from ..access import staff_view, study_for


@staff_view
def moderation_queue(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    context = {"study": study, "queue": selectors.moderation_queue(study), "section": "moderation"}
    return render(request, "dashboard/moderation.html", context)


@staff_view
@require_POST
def moderation_decide(request: HttpRequest, slug: str, kind: str, pk: int) -> HttpResponse:
    study = study_for(slug)
    item = get_object_or_404(services.MODERATED_KINDS[kind], pk=pk, study=study)
    approved = request.POST.get("decision") == "approve"
    services.moderation_decide(item=item, approved=approved)
    messages.success(request, f"{'Approved' if approved else 'Rejected'} {kind} {item.pk}.")
    return redirect("dashboard:moderation", slug=study.slug)


urls = [
    path("s/<slug:slug>/moderation/", moderation_queue, name="moderation"),
    *(
        path(
            f"s/<slug:slug>/moderation/{kind}/<int:pk>/",
            moderation_decide,
            {"kind": kind},
            name=f"moderation_{kind}",
        )
        for kind in services.MODERATED_KINDS
    ),
]
