"""The graph build on MAI's published data, as the dashboard's Build job runs it.

MAI's data (``../shared/data/mai-dft``) is imported into a fresh SQLite database, then
``services.graph_build`` runs ``--builds`` times in this process (each after deleting the
last, so that none is returned unchanged). Prints each build's seconds, then a last line
``first_s=... median_s=...``: the first build pays for imports and caches, the median is the
build of a warm process. ``--root`` builds with another checkout's code (an earlier commit),
to compare in the same way on the same machine.

    .venv/bin/python bench/mai_build.py [--builds 7] [--root DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mai-dft"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--builds", type=int, default=7)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    sys.path.insert(0, str(args.root))
    os.chdir(args.root)  # the Celery app puts the working directory first on sys.path
    folder = tempfile.mkdtemp(prefix="mge-mai-")
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/mai.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.management import call_command

    from elicitation.models import Study
    from moralgraph import services
    from moralgraph.importers.mai_dft import import_directory
    from moralgraph.models import GraphBuild

    call_command("migrate", verbosity=0)
    import_directory(DATA, study_slug="mai-dft")
    study = Study.objects.get(slug="mai-dft")
    times = []
    for _ in range(args.builds):
        GraphBuild.objects.filter(study=study).delete()
        start = time.perf_counter()
        services.graph_build(study=study)
        times.append(time.perf_counter() - start)
        print(f"{times[-1]:.3f}", flush=True)
    print(f"first_s={times[0]:.3f} median_s={statistics.median(times):.3f} root={args.root}")


if __name__ == "__main__":
    main()
