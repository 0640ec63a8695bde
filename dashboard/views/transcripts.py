"""A study's interviews: the filterable list, and one interview read in full."""

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from elicitation.selectors import interview_card

from .. import selectors
from ..access import staff_view, study_for
from ..forms import TranscriptFilterForm

PER_PAGE = 50


@staff_view
def transcript_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    filters = TranscriptFilterForm(request.GET, study=study)
    interviews = selectors.study_interviews(study, **filters.filters())
    page = Paginator(interviews, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "study": study,
        "filters": filters,
        "page": page,
        "rows": selectors.interview_rows(page),
        "section": "transcripts",
    }
    return render(request, "dashboard/transcripts.html", context)


@staff_view
def transcript_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    study = study_for(slug)
    interview = selectors.study_interview(study, pk)
    if interview is None:
        raise Http404("No such interview in this study.")
    context = {
        "study": study,
        "interview": interview,
        "participant": selectors.participant_short_id(interview.participant_id),
        "demographics": interview.participant.demographics,
        "entries": selectors.transcript_entries(interview),
        "card": interview_card(interview),
        "llm_calls": selectors.interview_llm_calls(interview),
        "section": "transcripts",
    }
    return render(request, "dashboard/transcript.html", context)


urls = [
    path("s/<slug:slug>/transcripts/", transcript_list, name="transcripts"),
    path("s/<slug:slug>/transcripts/<int:pk>/", transcript_detail, name="transcript"),
]
