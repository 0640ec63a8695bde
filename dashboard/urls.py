"""The organizer dashboard, under /dashboard/. Each feature's module lists its own routes."""

from .views import (
    admission,
    builds,
    contexts,
    exports,
    graph,
    jobs,
    moderation,
    overview,
    raters,
    studies,
    transcripts,
    values,
)

app_name = "dashboard"

urlpatterns = [
    *overview.urls,
    *studies.urls,
    *admission.urls,
    *transcripts.urls,
    *values.urls,
    *contexts.urls,
    *jobs.urls,
    *exports.urls,
    *graph.urls,
    *raters.urls,
    *moderation.urls,
    *builds.urls,
]
