"""python manage.py build_graph --study SLUG: store the study's moral graph as a new build."""

from django.core.management.base import BaseCommand, CommandError

from elicitation.models import Study
from moralgraph.services import graph_build


class Command(BaseCommand):
    help = (
        "Aggregate the study's votes into its moral graph and store it (a new build only when "
        "the graph changed). Participants' results pages and the dashboard read the newest build; "
        "run it from cron to keep them current."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--study", required=True, help="the study's slug")

    def handle(self, *args, study: str, **options) -> None:
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"No study with slug {study!r}.")
        newest_before = found.graph_builds.order_by("-built_at", "-id").first()
        build = graph_build(study=found)
        counts = build.summary["counts"]
        state = "unchanged, newest build kept" if build == newest_before else "stored"
        self.stdout.write(
            f"Graph {build.graph_version[:12]} ({state}): {_n(counts['votes'], 'vote')} by "
            f"{_n(counts['raters'], 'rater')} on {_n(counts['values'], 'value')} in "
            f"{_n(counts['contexts'], 'context')}; "
            f"publishable: {build.summary['reliability']['gate']['publishable']}."
        )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
