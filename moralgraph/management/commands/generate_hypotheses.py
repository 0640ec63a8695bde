from django.core.management.base import BaseCommand, CommandError

from elicitation.models import Study
from moralgraph import selectors
from moralgraph.tasks import dedupe_pending, generate_hypotheses


class Command(BaseCommand):
    help = (
        "Deduplicate the study's pending cards, then generate upgrade hypotheses in every "
        "context with cards (queued on Celery; inline when no broker is configured)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--study", required=True, help="the study's slug")
        parser.add_argument(
            "--force", action="store_true", help="regenerate even where hypotheses are current"
        )

    def handle(self, *args, study: str, force: bool, **options) -> None:
        found = Study.objects.filter(slug=study).first()
        if found is None:
            raise CommandError(f"No study with slug {study!r}.")
        linked = dedupe_pending.delay(found.pk).get()
        self.stdout.write(f"Cards linked to canonical values: {linked}")
        for context_id in selectors.contexts_with_cards(found.pk):
            stored = generate_hypotheses.delay(found.pk, context_id, force).get()
            self.stdout.write(f"Context {context_id}: {stored} new hypotheses")
