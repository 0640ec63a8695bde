from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Organizer dashboard"

    def ready(self) -> None:
        # Registers the Celery tasks in every process, not only in workers (which autodiscover):
        # dashboard.jobs finds its task by name, since dashboard.tasks imports it.
        from . import tasks  # noqa: F401
