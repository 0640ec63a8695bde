"""Participant pages: consent, demographics, interview, card review, guided form, wisdom votes,
results and feedback, thank-you.

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

from . import access, admission, clientaddr, selectors, services, throttle
from .forms import CardForm, ConsentForm, DemographicsForm, FeedbackForm, VoteForm
from .models import Interview, Participant, Study, ValuesCard


def _participant_in(request: HttpRequest, study: Study) -> Participant | None:
    participant = access.participant_for_request(request)
    if participant is None or participant.study_id != study.pk:
        return None
    return participant


def _consented(request: HttpRequest, study: Study) -> Participant | None:
    participant = _participant_in(request, study)
    return participant if participant and participant.consented_at else None


def _url(name: str, study: Study) -> str:
    return reverse(f"elicitation:{name}", kwargs={"slug": study.slug})


def _after_card_url(participant: Participant) -> str:
    """Votes when the study has hypotheses to judge, else the thank-you page."""
    in_reach = selectors.participant_votes_in_reach(participant)
    return _url("vote" if in_reach else "done", participant.study)


def _resume_url(participant: Participant) -> str:
    """Where a consented participant coming back should be."""
    study = participant.study
    if selectors.participant_confirmed_cards(participant):
        return _after_card_url(participant)
    if participant.interviews.exists() or not study.ask_demographics:
        return _url("start", study)
    return _url("demographics", study)


def _not_open(request: HttpRequest, study: Study) -> HttpResponse:
    return render(request, "elicitation/not_open.html", {"study": study})


@require_http_methods(["GET", "POST"])
def landing(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    current = _participant_in(request, study)
    if request.method == "POST" and request.POST.get("decision") != "agree" and current:
        return _decline(study, current)  # withdrawing is allowed even once the study closed
    if not study.is_open:
        return _not_open(request, study)
    form = ConsentForm(request.POST if request.method == "POST" else request.GET)
    if request.method == "GET":
        return _landing_page(request, study, form, current)
    try:
        participant = admission.participant_admit(
            study=study,
            recruitment=form.recruitment(),
            invite_code=form.invite_code(),
            current=current,
            client_hash=clientaddr.client_hash(clientaddr.client_address(request)),
        )
    except admission.AdmissionRefused as refused:
        return _not_admitted(request, study, refused.code)
    if request.POST.get("decision") != "agree":
        return _decline(study, participant)
    services.participant_consent(participant=participant, agreed=True)
    response = redirect(_resume_url(participant))
    access.remember_participant(response, participant)
    return response


def _landing_page(
    request: HttpRequest, study: Study, form: ConsentForm, current: Participant | None
) -> HttpResponse:
    pid = form.recruitment().get("PROLIFIC_PID", "")
    if current and current.consented_at and current.prolific_pid == pid:
        return redirect(_resume_url(current))
    refusal = admission.visit_refusal(
        study=study, recruitment=form.recruitment(), invite_code=form.invite_code()
    )
    if refusal and not current:
        return _not_admitted(request, study, refusal)
    return render(request, "elicitation/landing.html", {"study": study, "form": form})


def _not_admitted(request: HttpRequest, study: Study, code: str) -> HttpResponse:
    status = 429 if code == "too_many" else 403
    context = {"study": study, "code": code, "message": admission.REFUSALS[code]}
    return render(request, "elicitation/not_admitted.html", context, status=status)


def _decline(study: Study, participant: Participant) -> HttpResponse:
    """Decline; after agreeing, withdraw: their data is deleted and their cookie forgotten."""
    withdrawing = participant.consented_at is not None
    recruited = participant.is_recruited
    services.participant_consent(participant=participant, agreed=False)
    query = "?" + urlencode({"withdrawn": int(withdrawing), "recruited": int(recruited)})
    response = redirect(_url("declined", study) + query)
    if withdrawing:
        access.forget_participant(response)
    else:
        access.remember_participant(response, participant)
    return response


def declined(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    participant = _participant_in(request, study)
    recruited = request.GET.get("recruited") == "1" or bool(
        participant and participant.is_recruited
    )
    withdrawn = request.GET.get("withdrawn") == "1"
    context = {"study": study, "recruited": recruited, "withdrawn": withdrawn}
    return render(request, "elicitation/declined.html", context)


def withdraw(request: HttpRequest, slug: str) -> HttpResponse:
    """Asks a consented participant to confirm; the form declines on the landing page."""
    study = get_object_or_404(Study, slug=slug)
    if _consented(request, study) is None:
        return redirect(_url("landing", study))
    return render(request, "elicitation/withdraw.html", {"study": study})


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
        return redirect(_after_card_url(participant))
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
        return redirect(_after_card_url(interview.participant))
    form = CardForm(request.POST) if request.method == "POST" else CardForm.for_card(card)
    if form.is_valid():
        services.card_edit(card=card, **form.card_fields())
        if "confirm" in request.POST and form.has_substance():
            services.card_confirm(card=card)
            return redirect(_after_card_url(interview.participant))
        if "confirm" not in request.POST:
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


def _voter(request: HttpRequest, study: Study) -> Participant | HttpResponse:
    """The consented participant with a confirmed card, or where to send anybody else."""
    participant = _consented(request, study)
    if participant is None:
        return redirect(_url("landing", study))
    if not selectors.participant_confirmed_cards(participant):
        return redirect(_url("start", study))
    return participant


@require_http_methods(["GET", "POST"])
def vote(request: HttpRequest, slug: str) -> HttpResponse:
    """One hypothesis at a time from the participant's draw; results once all are answered."""
    study = get_object_or_404(Study, slug=slug)
    participant = _voter(request, study)
    if isinstance(participant, HttpResponse):
        return participant
    if request.method == "GET":
        return _vote_page(request, participant)
    form = VoteForm(request.POST)
    if not form.is_valid():
        return _vote_page(request, participant, form, status=400)
    rate = settings.MGE_VOTE_RATE_PER_MINUTE
    if not throttle.allow(f"vote:{participant.token}", per_minute=rate):
        form.add_error(None, "You’re answering very fast. Please wait a minute, then send again.")
        return _vote_page(request, participant, form, status=429)
    _vote_submit(request, participant, form.cleaned_data)
    return redirect(_url("vote", study))


def _vote_submit(request: HttpRequest, participant: Participant, data: dict) -> None:
    try:
        vote, created = services.vote_record(
            participant=participant,
            hypothesis_id=data["hypothesis"],
            answer=data["answer"],
            reason=data["reason"],
            client_id=data["client_id"],
        )
    except services.VoteRefused as refused:
        messages.error(request, str(refused))
        return
    if not created and vote.client_id != data["client_id"]:
        messages.info(request, "You already answered that comparison; your first answer counts.")


def _vote_page(
    request: HttpRequest, participant: Participant, form: VoteForm | None = None, status: int = 200
) -> HttpResponse:
    study = participant.study
    draw = selectors.participant_draw(participant)
    if not draw:
        services.votes_draw(participant=participant)
        draw = selectors.participant_draw(participant)
    if not draw:
        return redirect(_url("done", study))
    pending = [impression for impression in draw if not impression.answered]
    if not pending:
        return redirect(_url("results", study))
    wanted = form.data.get("hypothesis") if form else None
    shown = next((i for i in pending if str(i.hypothesis_id) == wanted), pending[0])
    if form is None or str(shown.hypothesis_id) != wanted:
        form = VoteForm.for_hypothesis(shown.hypothesis_id)
    context = {
        "study": study,
        "hypothesis": shown.hypothesis,
        "form": form,
        "number": len(draw) - len(pending) + 1,
        "total": len(draw),
    }
    return render(request, "elicitation/vote.html", context, status=status)


@require_http_methods(["GET", "POST"])
def results(request: HttpRequest, slug: str) -> HttpResponse:
    """Where the participant's card went in the graph, then the closing feedback questions."""
    study = get_object_or_404(Study, slug=slug)
    participant = _voter(request, study)
    if isinstance(participant, HttpResponse):
        return participant
    if request.method == "POST" and "skip" in request.POST:
        return redirect(_url("done", study))
    form = FeedbackForm(request.POST or None, initial=participant.feedback)
    if form.is_valid():
        services.participant_feedback_save(participant=participant, answers=form.cleaned_data)
        return redirect(_url("done", study))
    context = {
        "study": study,
        "placements": selectors.participant_placements(participant),
        "voted": participant.votes.count(),
        "form": form,
    }
    return render(request, "elicitation/results.html", context)


def completion_redirect_url(study: Study) -> str:
    """The study's completion URL, with its completion code added when the URL lacks one."""
    url = study.completion_url
    if study.completion_code and "cc=" not in url:
        url += ("&" if "?" in url else "?") + urlencode({"cc": study.completion_code})
    return url


def done(request: HttpRequest, slug: str) -> HttpResponse:
    """The completion code and redirect, only once the server counts the work as done."""
    study = get_object_or_404(Study, slug=slug)
    participant = _consented(request, study)
    if participant is None:
        return redirect(_url("landing", study))
    if participant.completed_at is None:
        try:
            services.participant_complete(participant=participant)
        except services.CompletionRefused as refused:
            context = {"study": study, "missing": refused.missing}
            return render(request, "elicitation/not_done.html", context, status=403)
    if participant.is_recruited and study.completion_url:
        return redirect(completion_redirect_url(study))
    cards = selectors.participant_confirmed_cards(participant)
    return render(request, "elicitation/done.html", {"study": study, "cards": cards})
