"""Find out what the configured LLM endpoint + model supports, and store it."""

from django.core.management.base import BaseCommand, CommandError

from elicitation.capabilities import endpoint_check
from elicitation.llm.errors import LLMError
from elicitation.models import Study


class Command(BaseCommand):
    help = (
        "Probe the configured OpenAI-compatible endpoint for streaming, tool calls, forced tool "
        "choice and JSON-schema output, and store what works for the interviewer to use."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--study", help="Check the study's model (default: LLM_MODEL).")

    def handle(self, *args, **options) -> None:
        study = None
        if options["study"]:
            study = Study.objects.filter(slug=options["study"]).first()
            if study is None:
                raise CommandError(f"No study with slug {options['study']!r}.")
        try:
            report = endpoint_check(
                model=study.model_name if study else None, study_id=study.pk if study else None
            )
        except LLMError as error:
            raise CommandError(f"The endpoint did not answer a plain request: {error}") from error
        self.stdout.write("\n".join(report.lines()))
