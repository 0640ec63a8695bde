"""A study's canonical values: the searchable list, one value with its cards and hypotheses,
and the organizer's edits, merges and splits."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from elicitation.models import Study
from moralgraph import services
from moralgraph.models import CanonicalValue, UpgradeHypothesis

from .. import selectors
from ..access import staff_view, study_for
from ..forms import ValueEditForm, ValueMergeForm, ValueSearchForm, ValueSplitForm

PER_PAGE = 50


@staff_view
def value_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    search = ValueSearchForm(request.GET)
    values = selectors.values_for_list(study, search=search.search())
    page = Paginator(values, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "study": study,
        "search": search,
        "page": page,
        "rows": selectors.value_rows(page),
        "section": "values",
    }
    return render(request, "dashboard/values.html", context)


@staff_view
def value_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """The value's page; a POST here saves an edit of its title, description and policies."""
    study, value = _study_value(slug, pk)
    form = ValueEditForm.for_value(value, request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            services.canonical_value_edit(value=value, **form.cleaned_data)
        except ValueError as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"Saved “{value}”.")
            return _to_value(slug, value)
    return _value_page(request, study, value, form)


@staff_view
@require_POST
def value_merge(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    _, value = _study_value(slug, pk)
    form = ValueMergeForm(request.POST, value=value)
    if not form.is_valid():
        return _refused(request, slug, value, form)
    target = form.cleaned_data["target"]
    try:
        services.canonical_values_merge(target=target, sources=[value])
    except ValueError as refusal:
        messages.error(request, str(refusal))
        return _to_value(slug, value)
    messages.success(request, f"Merged “{value}” into “{target}”.")
    return _to_value(slug, target)


@staff_view
@require_POST
def value_split(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    _, value = _study_value(slug, pk)
    form = ValueSplitForm(request.POST, value=value)
    if not form.is_valid():
        return _refused(request, slug, value, form)
    try:
        new = services.canonical_value_split(value=value, card_ids=form.card_ids())
    except ValueError as refusal:
        messages.error(request, str(refusal))
        return _to_value(slug, value)
    count = len(form.card_ids())
    messages.success(request, f"{count} card(s) of “{value}” now form “{new}”.")
    return _to_value(slug, new)


@staff_view
@require_POST
def hypothesis_activity(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Stop showing a hypothesis to voters, or show it again; back to the value it was set from."""
    study = study_for(slug)
    hypothesis = get_object_or_404(UpgradeHypothesis, study=study, pk=pk)
    active = request.POST.get("active") == "1"
    services.hypothesis_activity_set(hypothesis=hypothesis, active=active)
    shown = "is shown to voters again" if active else "is no longer shown to voters"
    messages.success(request, f"The upgrade {hypothesis} {shown}.")
    back = selectors.study_value(study, _int(request.POST.get("value")))
    return _to_value(slug, back) if back else redirect("dashboard:values", slug=slug)


def _int(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


def _study_value(slug: str, pk: int) -> tuple[Study, CanonicalValue]:
    study = study_for(slug)
    value = selectors.study_value(study, pk)
    if value is None:
        raise Http404("No such value in this study.")
    return study, value


def _value_page(
    request: HttpRequest, study: Study, value: CanonicalValue, form: ValueEditForm
) -> HttpResponse:
    context = {
        "study": study,
        "value": value,
        "edit_form": form,
        "merge_form": ValueMergeForm(value=value),
        "links": selectors.value_links(value),
        "hypotheses": selectors.value_hypotheses(value),
        "merged_here": selectors.merged_into_value(value),
        "section": "values",
    }
    return render(request, "dashboard/value.html", context)


def _refused(request: HttpRequest, slug: str, value: CanonicalValue, form) -> HttpResponse:
    """Each of the form's errors as a message on the value's page."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return _to_value(slug, value)


def _to_value(slug: str, value: CanonicalValue) -> HttpResponse:
    return redirect("dashboard:value", slug=slug, pk=value.pk)


urls = [
    path("s/<slug:slug>/values/", value_list, name="values"),
    path("s/<slug:slug>/values/<int:pk>/", value_detail, name="value"),
    path("s/<slug:slug>/values/<int:pk>/merge/", value_merge, name="value_merge"),
    path("s/<slug:slug>/values/<int:pk>/split/", value_split, name="value_split"),
    path(
        "s/<slug:slug>/hypotheses/<int:pk>/activity/",
        hypothesis_activity,
        name="hypothesis_activity",
    ),
]
