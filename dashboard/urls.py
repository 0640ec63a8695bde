"""The organizer dashboard, under /dashboard/. Each feature's module lists its own routes."""

from .views import overview

app_name = "dashboard"

urlpatterns = [
    *overview.urls,
]
