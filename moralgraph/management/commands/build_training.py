"""python manage.py build_training --bundle DIR --prompts FILE: preference pairs from a bundle."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from elicitation.llm.errors import LLMError
from moralgraph import guided_answers
from moralgraph.management.arguments import add_bundle_and_prompts
from moralgraph.reranker.bundle import BundleError
from moralgraph.reranker.embedding import EncoderUnavailable
from moralgraph.training_build import SCORERS, training_build


class Command(BaseCommand):
    help = (
        "Write training/ for a bundle: for each prompt, N answers from the configured LLM "
        "(half guided by the matched context's top values, half naive), scored by the values "
        "reranker (or by how they were generated); best against worst as preference pairs in "
        "TRL and OpenAI DPO formats, plus prompt-only rows for reward functions."
    )

    def add_arguments(self, parser):
        add_bundle_and_prompts(parser)
        parser.add_argument("--n", type=int, default=4, help="answers per prompt (>= 2)")
        parser.add_argument("--out", type=Path, help="output folder (default: BUNDLE/training)")
        parser.add_argument("--limit", type=int, help="use only the first LIMIT prompts")
        parser.add_argument("--scorer", choices=SCORERS, default="auto")
        parser.add_argument("--device", default="cpu", help="reranker device: cpu or cuda")
        parser.add_argument("--model", help="LLM model (default: the LLM_MODEL setting)")
        parser.add_argument(
            "--min-margin", type=float, default=0.0, help="skip pairs whose scores differ less"
        )

    def handle(self, *args, bundle: Path, prompts: Path, n: int, **options):
        try:
            texts = guided_answers.read_prompts(prompts, limit=options["limit"])
            summary = training_build(
                bundle_dir=bundle,
                prompts=texts,
                n=n,
                out_dir=options["out"],
                scorer=options["scorer"],
                device=options["device"],
                model=options["model"],
                min_margin=options["min_margin"],
                progress=self._progress,
            )
        except (OSError, ValueError, BundleError, LLMError, EncoderUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("\n".join(summary.lines()))

    def _progress(self, done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            self.stderr.write(f"{done}/{total} prompts")
