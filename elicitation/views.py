"""Participant pages: consent, demographics, interview, card review, guided form, thank-you.

Thin: each view finds the participant through `access`, calls one service or selector, and
renders or redirects. Who may open what is decided in `access`, never here.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from . import access, selectors, services
from .forms import CardForm, ConsentForm, DemographicsForm
from .models import Interview, Participant, Study, ValuesCard


def _participant_in(request: HttpRequest, study: Study) -> Participant | None:
    participant = access.participant_for_request(request)
    if participant is None or participant.study_id != study.pk:
        return None
    return participant


def _landing_participant(request: HttpRequest, study: Study, pid: str) -> Participant | None:
    """The cookie's participant, unless the link names another Prolific participant."""
    participant = _participant_in(request, study)
    if participant and pid and participant.prolific_pid != pid[:64]:
        return None
    return participant


def _consented(request: HttpRequest, study: Study) -> Participant | None:
    participant = _participant_in(request, study)
    return participant if participant and participant.consented_at else None


def _url(name: str, study: Study) -> str:
    return reverse(f"elicitation:{name}", kwargs={"slug": study.slug})


def _resume_url(participant: Participant) -> str:
    """Where a consented participant coming back should be."""
    study = participant.study
    if selectors.participant_confirmed_cards(participant):
        return _url("done", study)
    if participant.interviews.exists() or not study.ask_demographics:
        return _url("start", study)
    return _url("demographics", study)


def _not_open(request: HttpRequest, study: Study) -> HttpResponse:
    return render(request, "elicitation/not_open.html", {"study": study})


@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    if not study.is_open:
        return _not_open(request, study)
    form = ConsentForm(request.POST if request.method == "POST" else request.GET)
    recruitment = form.recruitment()
    participant = _landing_participant(request, study, recruitment.get("PROLIFIC_PID", ""))
    if request.method == "GET":
        if participant and participant.consented_at:
            return redirect(_resume_url(participant))
        return render(request, "elicitation/landing.html", {"study": study, "form": form})
    participant = participant or services.participant_start(study=study, recruitment=recruitment)
    agreed = request.POST.get("decision") == "agree"
    services.participant_consent(participant=participant, agreed=agreed)
    response = redirect(_resume_url(participant) if agreed else _url("declined", study))
    access.remember_participant(response, participant)
    return response


def declined(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    participant = _participant_in(request, study)
    context = {"study": study, "recruited": bool(participant and participant.is_recruited)}
    return render(request, "elicitation/declined.html", context)


@require_http_methods(["GET", "POST"])
def demographics(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    participant = _consented(request, study)
    if participant is None:
        return redirect(_url("landing", study))
    if not study.ask_demographics:
        return redirect(_url("start", study))
    form = DemographicsForm(request.POST or None, initial=participant.demographics)
    if request.method == "POST" and "skip" in request.POST:
        return redirect(_url("start", study))
    if form.is_valid():
        services.participant_demographics_save(participant=participant, answers=form.cleaned_data)
        return redirect(_url("start", study))
    return render(request, "elicitation/demographics.html", {"study": study, "form": form})


def start(request: HttpRequest, slug: str) -> HttpResponse:
    """Continue the participant's open interview, or open one on the least-covered question."""
    study = get_object_or_404(Study, slug=slug)
    participant = _consented(request, study)
    if participant is None:
        return redirect(_url("landing", study))
    if selectors.participant_confirmed_cards(participant):
        return redirect(_url("done", study))
    interview = selectors.participant_open_interview(participant)
    if interview is None:
        if not study.is_open:
            return _not_open(request, study)
        question = selectors.question_for_new_interview(participant)
        if question is None:
            return _not_open(request, study)
        interview = services.interview_start(participant=participant, question=question)
    return redirect(interview)


def _own_interview(request: HttpRequest, pk: int) -> Interview:
    return access.interview_for_participant(access.participant_for_request(request), pk)


def interview(request: HttpRequest, pk: int) -> HttpResponse:
    interview = _own_interview(request, pk)
    context = {
        "study": interview.participant.study,
        "interview": interview,
        "question": interview.question,
        "history": selectors.interview_history_messages(interview),
        "card": selectors.interview_card(interview),
        "ws_path": f"/ws/interview/{interview.pk}/",
        "max_chars": settings.MGE_MESSAGE_MAX_CHARS,
        "guided": interview.status == Interview.Status.GUIDED,
        "completed": interview.status == Interview.Status.COMPLETED,
    }
    return render(request, "elicitation/interview.html", context)


@require_http_methods(["GET", "POST"])
def guided(request: HttpRequest, pk: int) -> HttpResponse:
    """The card written by hand: for when the LLM is unavailable, or by preference."""
    interview = _own_interview(request, pk)
    card = selectors.interview_card(interview)
    if card and card.status == ValuesCard.Status.CONFIRMED:
        return redirect("elicitation:card", pk=interview.pk)
    form = CardForm(request.POST) if request.method == "POST" else CardForm.for_card(card)
    if form.is_valid():
        services.card_draft_save(
            interview=interview,
            source=ValuesCard.Source.GUIDED,
            changed_by="participant",
            **form.card_fields(),
        )
        return redirect("elicitation:card", pk=interview.pk)
    context = {
        "study": interview.participant.study,
        "interview": interview,
        "form": form,
        "llm_down": interview.status == Interview.Status.GUIDED,
    }
    return render(request, "elicitation/guided.html", context)


@require_http_methods(["GET", "POST"])
def card(request: HttpRequest, pk: int) -> HttpResponse:
    interview = _own_interview(request, pk)
    card = selectors.interview_card(interview)
    if card is None:
        return redirect(interview)
    study = interview.participant.study
    confirmed = card.status == ValuesCard.Status.CONFIRMED
    if request.method == "POST" and confirmed:
        return redirect(_url("done", study))
    form = CardForm(request.POST) if request.method == "POST" else CardForm.for_card(card)
    if form.is_valid():
        services.card_edit(card=card, **form.card_fields())
        if "confirm" in request.POST:
            services.card_confirm(card=card)
            return redirect(_url("done", study))
        messages.success(request, "Your changes are saved.")
        return redirect("elicitation:card", pk=interview.pk)
    context = {
        "study": study,
        "interview": interview,
        "card": card,
        "form": form,
        "confirmed": confirmed,
    }
    return render(request, "elicitation/card.html", context)


def completion_redirect_url(study: Study) -> str:
    """The study's completion URL, with its completion code added when the URL lacks one."""
    url = study.completion_url
    if study.completion_code and "cc=" not in url:
        url += ("&" if "?" in url else "?") + urlencode({"cc": study.completion_code})
    return url


def done(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    participant = _consented(request, study)
    if participant is None:
        return redirect(_url("landing", study))
    cards = selectors.participant_confirmed_cards(participant)
    if not cards:
        return redirect(_url("start", study))
    services.participant_complete(participant=participant)
    if participant.is_recruited and study.completion_url:
        return redirect(completion_redirect_url(study))
    return render(request, "elicitation/done.html", {"study": study, "cards": cards})
