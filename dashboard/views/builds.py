"""Two stored builds of a study side by side: what changed from the earlier to the later."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from moralgraph.models import GraphBuild
from moralgraph.selectors import graph_builds_compared
from moralgraph.services import graph_build_label

from ..access import staff_view, study_for


@staff_view
def builds_compare(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_for(slug)
    builds = list(
        GraphBuild.objects.filter(study=study).order_by("-built_at", "-id").defer("summary")
    )
    earlier, later = chosen_builds(builds, request.GET.get("earlier"), request.GET.get("later"))
    change = graph_builds_compared(earlier, later) if earlier and later else None
    page = {
        "study": study,
        "section": "reports",
        "builds": builds,
        "earlier": earlier,
        "later": later,
        "change": change,
        "changed": changed_contexts(change),
    }
    return render(request, "dashboard/builds_compare.html", page)


@staff_view
@require_POST
def build_label(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    study = study_for(slug)
    build = get_object_or_404(GraphBuild, study=study, pk=pk)
    graph_build_label(build=build, label=request.POST.get("label", ""))
    return redirect("dashboard:builds_compare", slug=study.slug)


urls = [
    path("s/<slug:slug>/builds/compare/", builds_compare, name="builds_compare"),
    path("s/<slug:slug>/builds/<int:pk>/label/", build_label, name="build_label"),
]


def chosen_builds(
    builds: list[GraphBuild], earlier: str | None, later: str | None
) -> tuple[GraphBuild | None, GraphBuild | None]:
    """The builds named by id (404 for one not of this study), else the two newest."""
    by_id = {str(build.pk): build for build in builds}
    if earlier or later:
        if earlier not in by_id or later not in by_id:
            raise Http404("No such build of this study.")
        return _full(by_id[earlier]), _full(by_id[later])
    if len(builds) < 2:
        return None, None
    return _full(builds[1]), _full(builds[0])


def _full(build: GraphBuild) -> GraphBuild:
    return GraphBuild.objects.get(pk=build.pk)


def changed_contexts(change: dict | None) -> list[tuple[str, dict]]:
    """The contexts where something changed, by id."""
    if change is None:
        return []
    fields = ("values_added", "edges_appeared", "edges_flipped", "edges_lost_support")
    return [
        (cid, c)
        for cid, c in sorted(change["contexts"].items())
        if c["winner_changed"] or any(c[name] for name in fields)
    ]
