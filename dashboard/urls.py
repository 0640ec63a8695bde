"""The organizer dashboard, under /dashboard/. Each feature's module lists its own routes."""

from .views import contexts, exports, graph, jobs, overview, studies, transcripts, values

app_name = "dashboard"

urlpatterns = [
    *overview.urls,
    *studies.urls,
    *transcripts.urls,
    *values.urls,
    *contexts.urls,
    *jobs.urls,
    *exports.urls,
    *graph.urls,
]
