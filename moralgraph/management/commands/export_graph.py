"""python manage.py export_graph --study SLUG --out DIR: write the study's bundle."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from elicitation.models import Study
from moralgraph import selectors
from moralgraph.core import Config
from moralgraph.exporting import study_export
from moralgraph.models import GraphBuild


class Command(BaseCommand):
    help = (
        "Write a study's moral graph as a bundle directory: manifest, values, contexts, "
        "edges, per-context rankings, MAI's graph.json, GraphML, JSON Schemas and a dataset "
        "card. An earlier bundle at DIR is replaced. Same votes and config, same bytes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--study", required=True, help="study slug")
        parser.add_argument("--out", required=True, type=Path, help="bundle directory")
        parser.add_argument(
            "--include-votes",
            action="store_true",
            help="add votes.jsonl: consenting participants only, raters as keyed hashes",
        )
        salt = parser.add_mutually_exclusive_group()
        salt.add_argument("--salt", help="key of the rater hashes (needed with votes)")
        salt.add_argument("--salt-file", type=Path, help="read the salt from this file")
        parser.add_argument(
            "--config", type=Path, help="JSON file of aggregation settings (Config fields)"
        )
        parser.add_argument(
            "--mai", action="store_true", help="MAI compatibility: five-field entropy"
        )
        parser.add_argument(
            "--compare-with",
            metavar="BUILD",
            help="an earlier stored build (id or wave label): add comparison.json, what "
            "changed from it to the newest build",
        )

    def handle(self, *args, study: str, out: Path, include_votes: bool, **options):
        try:
            target = Study.objects.get(slug=study)
        except Study.DoesNotExist:
            raise CommandError(f"No study with slug {study!r}.") from None
        salt = _salt(options["salt"], options["salt_file"])
        if include_votes and not salt:
            raise CommandError("--include-votes needs --salt or --salt-file.")
        config = _config(options["config"], mai=options["mai"])
        earlier = _build(target, options["compare_with"])
        try:
            path = study_export(
                target,
                out,
                include_votes=include_votes,
                salt=salt,
                config=config,
                compare_with=earlier,
            )
        except (ValueError, FileExistsError) as exc:
            raise CommandError(str(exc)) from exc
        manifest = json.loads((path / "manifest.json").read_text())
        counts = manifest["counts"]
        self.stdout.write(
            f"Wrote {path}: graph version {manifest['graph_version']}, {counts['values']} "
            f"values, {counts['contexts']} contexts, {counts['edges']} edges "
            f"({counts['kept_edges']} kept), {counts['votes']} votes."
        )
        if earlier is not None:
            self.stdout.write(f"comparison.json: build {earlier.pk} against the newest build.")


def _build(study: Study, name: str | None) -> GraphBuild | None:
    if name is None:
        return None
    build = selectors.graph_build_named(study, name)
    if build is None:
        raise CommandError(f"Study {study.slug!r} has no build with id or label {name!r}.")
    return build


def _salt(text: str | None, path: Path | None) -> str | None:
    if path is not None:
        try:
            return path.read_text().strip() or None
        except OSError as exc:
            raise CommandError(f"Cannot read the salt file: {exc}") from exc
    return text or None


def _config(path: Path | None, *, mai: bool) -> Config:
    try:
        data = json.loads(path.read_text()) if path is not None else {}
        return Config.mai(**data) if mai else Config.from_dict(data)
    except (OSError, ValueError, TypeError) as exc:
        raise CommandError(f"Bad aggregation config: {exc}") from exc
