"""python manage.py import_mai_dft DIR --study SLUG: load MAI's DFT data as a study."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from moralgraph.importers import mai_dft
from moralgraph.importers.mai_dump import MaiDataError


class Command(BaseCommand):
    help = (
        "Load the Meaning Alignment Institute's Democratic Fine-Tuning JSON files (DIR) as a "
        "study: questions, contexts, cards, canonical values, hypotheses, wisdom votes, "
        "impressions and demographics. Safe to re-run: it only adds what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="folder holding edge.json etc.")
        parser.add_argument("--study", required=True, help="study slug; created if missing")
        parser.add_argument("--title", default=None, help="title for a new study")

    def handle(self, *args, directory: Path, study: str, title: str | None, **options):
        try:
            summary = mai_dft.import_directory(directory, study_slug=study, title=title)
        except MaiDataError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("\n".join(summary.lines()))
