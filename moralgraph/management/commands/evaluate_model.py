"""python manage.py evaluate_model --bundle DIR --prompts FILE: a model's report card."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from elicitation.llm.errors import LLMError
from moralgraph import evaluation, guided_answers
from moralgraph.management.arguments import add_bundle_and_prompts
from moralgraph.reranker.bundle import BundleError
from moralgraph.reranker.embedding import EncoderUnavailable


class Command(BaseCommand):
    help = (
        "Evaluate the configured LLM against a bundle: one plain answer per prompt (no value "
        "guidance), scored by the values reranker in the prompt's best-matching context. "
        "Prints a table per context (mean score, percentile within the run, share of answers "
        "whose best-matching value is the winner or a value it supersedes); --out writes the "
        "full JSON report."
    )

    def add_arguments(self, parser):
        add_bundle_and_prompts(parser)
        parser.add_argument("--limit", type=int, help="use only the first LIMIT prompts")
        parser.add_argument("--model", help="the model under test (default: LLM_MODEL)")
        parser.add_argument("--out", type=Path, help="write the JSON report here")
        parser.add_argument("--device", default="cpu", help="reranker device: cpu or cuda")

    def handle(self, *args, bundle: Path, prompts: Path, out: Path | None, **options):
        try:
            texts = guided_answers.read_prompts(prompts, limit=options["limit"])
            report = evaluation.model_evaluate(
                bundle_dir=bundle,
                prompts=texts,
                model=options["model"],
                device=options["device"],
                progress=self._progress,
            )
        except (OSError, ValueError, BundleError, LLMError, EncoderUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if out is not None:
            out.write_text(evaluation.report_json(report), encoding="utf-8")
        self.stdout.write(evaluation.report_table(report))
        if out is not None:
            self.stdout.write(f"Wrote {out}")

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            self.stderr.write(f"{done}/{total} prompts")
