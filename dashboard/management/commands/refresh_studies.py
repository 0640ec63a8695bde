"""Start the update of every open study whose cadence says it is due (for cron without beat)."""

from django.core.management.base import BaseCommand, CommandError

from dashboard import cadence
from dashboard.jobs import job_start
from dashboard.models import Job
from elicitation.models import Study


class Command(BaseCommand):
    help = (
        "Start the update (deduplicate cards, match contexts, generate hypotheses, build the "
        "graph) of each open study that is due by its cadence; --study SLUG --now runs one now."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--study", help="Only this study (its slug).")
        parser.add_argument("--now", action="store_true", help="Whether due or not.")

    def handle(self, *args, **options) -> None:
        studies = cadence.studies_with_cadence()
        if options["study"]:
            studies = Study.objects.filter(slug=options["study"])
            if not studies.exists():
                raise CommandError(f"No study with slug {options['study']!r}.")
        for study in studies:
            if options["now"]:
                job = job_start(study=study, kind=Job.Kind.REFRESH)
            else:
                job = cadence.study_refresh_if_due(study=study)
            if job is not None:
                job.refresh_from_db()  # it may have run already (no broker: inline or a thread)
            state = f"job {job.pk}: {job.state}, {job.message}" if job else "not due"
            self.stdout.write(f"{study.slug}: {state}")
