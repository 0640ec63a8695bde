"""The interactive moral graph: a page per context, its nodes and edges as JSON, and one
value's card and supporters as JSON. Drawing happens in static/js/dashboard-graph.js."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path

from elicitation.models import Study
from moralgraph.core import section_key
from moralgraph.models import CanonicalValue, GraphBuild
from moralgraph.selectors import graph_build_section, latest_graph_build, latest_graph_section

from .. import graphview, selectors
from ..access import staff_view, study_for


@staff_view
def graph(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    build = latest_graph_build(study)
    page: dict[str, Any] = {"study": study, "section": "graph", "build": build}
    if build is not None:
        page.update(graph_page(study, build, request.GET.get("context")))
    return render(request, "dashboard/graph.html", page)


@staff_view
def graph_data(request: HttpRequest, slug: str, context_id: int) -> JsonResponse:
    study = study_for(slug)
    section = latest_graph_section(study, section_key(context_id))
    return JsonResponse(context_graph(study, section, context_id))


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


def context_graph(study: Study, section: dict[str, Any] | None, context_id: int) -> dict[str, Any]:
    """:func:`graphview.context_graph` with the values' current titles; 404 without a section
    (no graph built yet, or the context is not in it)."""
    if section is None:
        raise Http404("No such context in this study's latest graph.")
    ids = graphview.context_value_ids(section)
    return graphview.context_graph(section, context_id, selectors.value_details(study, ids))


def graph_page(study: Study, build: GraphBuild, raw_context: str | None) -> dict[str, Any]:
    """The picker's contexts, the one shown (asked for, else the first) and its graph."""
    contexts = graphview.contexts_index(build.summary)
    chosen = optional_int(raw_context)
    if chosen is None and contexts:
        chosen = contexts[0]["id"]
    graph = None
    if chosen is not None:
        section = graph_build_section(build, section_key(chosen))
        graph = context_graph(study, section, chosen)
    return {
        "contexts": contexts,
        "graph": graph,
        "edge_rows": graphview.edge_rows(graph) if graph else [],
        "counts": build.summary.get("counts", {}),
    }
