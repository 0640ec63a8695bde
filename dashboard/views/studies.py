"""Creating a study, editing its settings and questions, and opening or closing it."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from elicitation import selectors
from elicitation.llm.client import endpoint_url
from elicitation.models import Study

from .. import studies
from ..access import staff_view, study_for
from ..forms import QuestionFormSet, StudyForm

QUESTIONS_PREFIX = "questions"
STATE_BUTTONS = {
    (Study.State.DRAFT, Study.State.OPEN): "Open the study",
    (Study.State.OPEN, Study.State.CLOSED): "Close the study",
    (Study.State.CLOSED, Study.State.OPEN): "Reopen the study",
}


@staff_view
def study_create(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = StudyForm(data)
    questions = QuestionFormSet(data, instance=Study(), prefix=QUESTIONS_PREFIX)
    if data is not None and _all_valid(form, questions):
        try:
            study = studies.study_create(
                slug=form.cleaned_data["slug"],
                fields=form.study_fields(),
                questions=questions.changes().added,
            )
        except studies.StudyChangeRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"Created “{study}”. It stays a draft until you open it.")
            return redirect("dashboard:study_edit", slug=study.slug)
    return _settings_page(request, None, form, questions)


@staff_view
def study_edit(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    data = request.POST if request.method == "POST" else None
    form = StudyForm(data, instance=study)
    questions = QuestionFormSet(data, instance=study, prefix=QUESTIONS_PREFIX)
    if data is not None and _all_valid(form, questions):
        try:
            studies.study_update(
                study=study, fields=form.study_fields(), questions=questions.changes()
            )
        except studies.StudyChangeRefused as refusal:
            messages.error(request, str(refusal))
            study.refresh_from_db()  # the form wrote the refused values onto it
        else:
            messages.success(request, "Settings saved.")
            return redirect("dashboard:study_edit", slug=study.slug)
    return _settings_page(request, study, form, questions)


@staff_view
@require_POST
def study_state(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    try:
        studies.study_state_change(study=study, state=request.POST.get("state", ""))
    except studies.StudyChangeRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"“{study}” is now {study.get_state_display().lower()}.")
    return redirect("dashboard:study_edit", slug=study.slug)


def _all_valid(*forms) -> bool:
    return all([form.is_valid() for form in forms])  # a list: every form shows its errors


def _settings_page(request: HttpRequest, study: Study | None, form, questions) -> HttpResponse:
    context = {
        "study": study,
        "form": form,
        "questions": questions,
        "state_buttons": _state_buttons(study),
        "section": "settings",
    }
    if study is not None:
        context["llm_endpoint_url"] = endpoint_url()
        context["llm_endpoint"] = selectors.endpoint_capabilities(
            base_url=endpoint_url(), model=study.model_name
        )
    return render(request, "dashboard/study_form.html", context)


def _state_buttons(study: Study | None) -> list[tuple[str, str]]:
    """(state, label) for each state the study may move to from where it is."""
    if study is None:
        return []
    return [(to, label) for (now, to), label in STATE_BUTTONS.items() if now == study.state]


urls = [
    path("studies/new/", study_create, name="study_create"),
    path("s/<slug:slug>/settings/", study_edit, name="study_edit"),
    path("s/<slug:slug>/settings/state/", study_state, name="study_state"),
]
