"""Pilot a study with simulated participants, through the real interview and voting code."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from elicitation.llm.errors import LLMError
from elicitation.models import Study
from elicitation.personas import load_personas
from elicitation.simulation import ParticipantResult, SimulationError, simulate


class Command(BaseCommand):
    help = (
        "Run N simulated participants (persona-driven, against the configured LLM) through "
        "consent, the interview, card confirmation, wisdom votes and feedback; print a summary."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--study", required=True, help="The study's slug.")
        parser.add_argument("--participants", type=int, required=True)
        parser.add_argument(
            "--personas", type=Path, help="JSON list or JSON Lines file; default: built-in."
        )
        parser.add_argument("--seed", type=int, help="Fixes the persona order and the draws.")
        parser.add_argument("--max-turns", type=int, default=8, help="Participant messages.")
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument(
            "--no-dedupe",
            action="store_true",
            help="Confirm cards without deduplicating them (MGE_DEDUPE_ON_CONFIRM off).",
        )

    def handle(self, *args, **options) -> None:
        self.verbosity = options["verbosity"]
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"No study with slug {options['study']!r}.")
        try:
            persona_list = load_personas(options["personas"]) if options["personas"] else None
            report = simulate(
                study=study,
                participants=options["participants"],
                persona_list=persona_list,
                seed=options["seed"],
                max_turns=options["max_turns"],
                concurrency=options["concurrency"],
                dedupe=not options["no_dedupe"],
                on_result=self.progress,
            )
        except (OSError, ValueError, LLMError, SimulationError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(report.summary())

    def progress(self, result: ParticipantResult) -> None:
        if self.verbosity >= 1:
            self.stdout.write(result.line())
