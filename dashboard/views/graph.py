"""The interactive moral graph: a page per context, its nodes and edges as JSON, and one
value's card and supporters as JSON. Drawing happens in static/js/dashboard-graph.js."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path

from elicitation.models import Study
from moralgraph.models import CanonicalValue
from moralgraph.selectors import latest_graph_build

from .. import graphview, selectors
from ..access import staff_view, study_for


@staff_view
def graph(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    build = latest_graph_build(study)
    page: dict[str, Any] = {"study": study, "section": "graph", "build": build}
    if build is not None:
        page.update(graph_page(study, build.result, request.GET.get("context")))
    return render(request, "dashboard/graph.html", page)


@staff_view
def graph_data(request: HttpRequest, slug: str, context_id: int) -> JsonResponse:
    study = study_for(slug)
    result = latest_result(study)
    return JsonResponse(context_graph(study, result, context_id))


@staff_view
def graph_value(request: HttpRequest, slug: str, value_id: int) -> JsonResponse:
    study = study_for(slug)
    value = get_object_or_404(CanonicalValue, study=study, pk=value_id)
    context_id = optional_int(request.GET.get("context"))
    return JsonResponse(selectors.value_panel(value, context_id))


urls = [
    path("s/<slug:slug>/graph/", graph, name="graph"),
    path("s/<slug:slug>/graph/<int:context_id>.json", graph_data, name="graph_data"),
    path("s/<slug:slug>/graph/values/<int:value_id>.json", graph_value, name="graph_value"),
]


def optional_int(raw: str | None) -> int | None:
    """``None`` when absent; 404 for anything but a whole number (a mangled link)."""
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404("Not a context id.") from None


def latest_result(study: Study) -> dict[str, Any]:
    build = latest_graph_build(study)
    if build is None:
        raise Http404("No graph has been built for this study yet.")
    return build.result


def context_graph(study: Study, result: dict[str, Any], context_id: int) -> dict[str, Any]:
    """:func:`graphview.context_graph` with the values' current titles; 404 if not in it."""
    try:
        ids = graphview.context_value_ids(result, context_id)
    except KeyError:
        raise Http404("No such context in this study's graph.") from None
    return graphview.context_graph(result, context_id, selectors.value_details(study, ids))


def graph_page(study: Study, result: dict[str, Any], raw_context: str | None) -> dict[str, Any]:
    """The picker's contexts, the one shown (asked for, else the first) and its graph."""
    contexts = graphview.contexts_index(result)
    chosen = optional_int(raw_context)
    if chosen is None and contexts:
        chosen = contexts[0]["id"]
    graph = context_graph(study, result, chosen) if chosen is not None else None
    return {"contexts": contexts, "graph": graph, "counts": result.get("counts", {})}
