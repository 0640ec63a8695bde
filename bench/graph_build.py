"""The whole graph build an organizer waits for, through the real service and database.

A seeded synthetic study (``bench/aggregate.py``'s generator) is written to the database as
values, contexts, hypotheses, participants, votes and one impression per vote; then
``services.graph_build`` (load the votes, aggregate, store the summary and sections) runs once
per path, each in a fresh child process so that its peak RSS is its own:

* new: Bradley-Terry intervals and P(top) from :func:`moralgraph.core.intervals.bt_intervals`;
* old: the build as it was before: the 200-refit :func:`moralgraph.core.rank.bt_bootstrap`,
  the indented JSON text (pure-Python encoder) and BLAS threads not pinned; the rest is shared.

``--incremental`` then switches the study to an acquiescence term per context, builds it,
adds a wave of new votes in one context and times the build that keeps the other contexts'
intervals against a full build of the same votes.

Sizes: 10k votes / 1k values / 10 contexts and 100k / 10k / 20 by default; ``--million`` adds
1M / 100k / 50 for the new path only (the old one takes many minutes there). The database is
``DATABASE_URL`` (each size in a study of its own, deleted afterwards) or, unset, a temporary
SQLite file. The last line reads ``new_s=... old_s=... ratio=...x new_peak_mb=...`` for the
largest size timed with both paths.

    DATABASE_URL=postgres://... .venv/bin/python bench/graph_build.py [--million] [--sizes ...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"10k": (1_000, 10_000, 10), "100k": (10_000, 100_000, 20), "1M": (100_000, 1_000_000, 50)}
BATCH = 20_000


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()


def seed_study(label: str) -> int:
    """Write the synthetic study of ``label`` to the database; its id."""
    from bench.aggregate import synthetic_study
    from elicitation.models import Context, Participant, Study, WisdomVote
    from moralgraph.core.types import ANSWERS
    from moralgraph.models import CanonicalValue, UpgradeHypothesis

    n_values, n_votes, n_contexts = SIZES[label]
    data = synthetic_study(n_values, n_votes, n_contexts)
    study = Study.objects.create(slug=f"bench-graph-{label}-{os.getpid()}", title=f"Bench {label}")
    contexts = Context.objects.bulk_create(
        [Context(study=study, name=f"When facing situation {c}") for c in range(n_contexts)]
    )
    values = CanonicalValue.objects.bulk_create(
        [CanonicalValue(study=study, title=f"Value {v}", description="") for v in range(n_values)],
        batch_size=BATCH,
    )
    raters = sorted(set(data["rater"].tolist()))
    people = Participant.objects.bulk_create(
        [Participant(study=study, token=f"b{study.pk}-{r}") for r in raters], batch_size=BATCH
    )
    person = {r: p.pk for r, p in zip(raters, people, strict=True)}
    triples = zip(data["context"].tolist(), data["src"].tolist(), data["dst"].tolist(), strict=True)
    keys = sorted(set(triples))
    hypotheses = UpgradeHypothesis.objects.bulk_create(
        [
            UpgradeHypothesis(
                study=study,
                context=contexts[c],
                from_value=values[a],
                to_value=values[b],
            )
            for c, a, b in keys
        ],
        batch_size=BATCH,
    )
    hypothesis = {key: h.pk for key, h in zip(keys, hypotheses, strict=True)}
    columns = (data[k].tolist() for k in ("rater", "context", "src", "dst", "answer"))
    seen, votes = set(), []
    for r, c, a, b, answer in zip(*columns, strict=True):
        pair = (person[r], hypothesis[(c, a, b)])
        if pair not in seen:  # one vote per participant and hypothesis
            seen.add(pair)
            votes.append(
                WisdomVote(participant_id=pair[0], hypothesis_id=pair[1], answer=ANSWERS[answer])
            )
    WisdomVote.objects.bulk_create(votes, batch_size=BATCH)
    seed_impressions(study.pk)
    return study.pk


def seed_impressions(study_id: int, after_vote: int = 0) -> None:
    """One impression for each vote after ``after_vote`` (an id), as a real study has: the
    hypothesis shown to its voter 5 to 120 s before the vote."""
    from django.db import connection

    shown = {
        "postgresql": "v.created_at - (5 + random() * 115) * interval '1 second'",
        "sqlite": "datetime(v.created_at, '-' || (5 + abs(random()) %% 115) || ' seconds')",
    }[connection.vendor]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO elicitation_impression (participant_id, hypothesis_id, draw_id, "
            "position, chosen, external_id, shown_at) "
            f"SELECT v.participant_id, v.hypothesis_id, '', 0, false, '', {shown} "  # noqa: S608
            "FROM elicitation_wisdomvote v JOIN moralgraph_upgradehypothesis h "
            "ON h.id = v.hypothesis_id WHERE h.study_id = %s AND v.id > %s",
            [study_id, after_vote],
        )


def analyze() -> None:
    """The freshly seeded tables as autovacuum leaves a real study's: planner statistics
    (without them PostgreSQL plans the build's queries for empty tables) and the rows marked
    visible (otherwise the first build after seeding pays for setting every row's hint bits:
    57.8 s against 48.1 s for the next build of the same 1M study)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def add_votes(study_id: int, count: int, seed: int = 1) -> None:
    """A new wave in one context: ``count`` votes by new participants (10 each) on the first
    context's hypotheses, answers drawn at random."""
    import numpy as np

    from elicitation.models import Participant, WisdomVote
    from moralgraph.core.types import ANSWERS
    from moralgraph.models import UpgradeHypothesis

    rng = np.random.default_rng(seed)
    first = UpgradeHypothesis.objects.filter(study_id=study_id).order_by("context_id", "id")
    context = first.values_list("context_id", flat=True).first()
    ids = list(first.filter(context_id=context).values_list("id", flat=True))
    known = Participant.objects.filter(study_id=study_id).count()
    people = Participant.objects.bulk_create(
        [
            Participant(study_id=study_id, token=f"w{study_id}-{known + n}")
            for n in range(count // 10)
        ]
    )
    votes = [
        WisdomVote(participant=person, hypothesis_id=hypothesis, answer=ANSWERS[answer])
        for person in people
        for hypothesis, answer in zip(
            rng.choice(ids, min(10, len(ids)), replace=False).tolist(),
            rng.choice([0, 1, 3], 10).tolist(),
            strict=False,
        )
    ]
    before = WisdomVote.objects.order_by("-id").values_list("id", flat=True).first() or 0
    WisdomVote.objects.bulk_create(votes, batch_size=BATCH)
    seed_impressions(study_id, after_vote=before)


def run_build(study_id: int, path: str) -> None:
    """Child process: one timed ``graph_build`` on the given path; prints ``seconds votes``.
    Every path but ``incremental`` starts with no earlier build to keep anything from."""
    from elicitation.models import Study
    from moralgraph import services
    from moralgraph.core import rank, report

    if path == "job":
        run_job(study_id)
        return
    if path == "old":
        _restore_old_path(services, report, rank)
    study = Study.objects.get(pk=study_id)
    if path != "incremental":
        study.graph_builds.all().delete()
    start = time.perf_counter()
    build = services.graph_build(study=study)
    print(f"{time.perf_counter() - start:.3f} {build.summary['counts']['votes']}")


def run_job(study_id: int) -> None:
    """Child process: the dashboard's Build job (``job_start``, run on a thread as the web
    process runs it without a worker), its progress read from this thread's own connection
    as the dashboard reads it, every change printed to stderr; prints ``seconds votes``."""
    from dashboard.jobs import job_start
    from dashboard.models import Job
    from elicitation.models import Study

    study = Study.objects.get(pk=study_id)
    study.graph_builds.all().delete()
    start = time.perf_counter()
    job = job_start(study=study, kind="aggregate")
    seen = None
    while job.state in (Job.State.QUEUED, Job.State.RUNNING):
        time.sleep(0.2)
        job.refresh_from_db()
        now = (job.progress_done, job.progress_total, job.message)
        if now != seen and job.state == Job.State.RUNNING:
            bar = f"{job.progress_done}/{job.progress_total}"
            print(
                f"  {time.perf_counter() - start:6.1f} s  {bar:>7}  {job.message}", file=sys.stderr
            )
            seen = now
    if job.state != Job.State.DONE:
        raise SystemExit(f"Build job {job.pk} ended {job.state}: {job.error}")
    print(f"{time.perf_counter() - start:.3f} {job.result['counts']['votes']}")


def _restore_old_path(services, report, rank) -> None:
    """The build as it was: 200 refits, indented JSON, BLAS threads left to OpenBLAS."""

    def indented(result):
        return json.dumps(report.clean(result), sort_keys=True, indent=1, ensure_ascii=False)

    report.bt_intervals = rank.bt_bootstrap
    report.threadpool_limits = lambda **_: contextlib.nullcontext()
    services.dumps = lambda result, cleaned=False: indented(result) + "\n"


def timed_child(
    study_id: int, path: str, env: dict[str, str], root: Path = ROOT
) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB and votes of one build in a child process; ``root``: the
    checkout whose code builds (another one for ``--baseline-root``). The child runs in
    ``root``: importing the Celery app puts the working directory first on ``sys.path``, so a
    baseline child started here built with this checkout's code (every baseline figure
    before 2026-12-07 07:00 UTC did)."""
    env = {**env, "PYTHONPATH": str(root)}
    args = [sys.executable, str(root / "bench" / "graph_build.py"), "--child", str(study_id), path]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, env=env, text=True, cwd=root)  # noqa: S603
    out = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{path} build of study {study_id} failed")
    seconds, votes = out.split()[-2:]
    return float(seconds), usage.ru_maxrss / 1024, int(votes)


def incremental_row(study_id: int, label: str, votes: int, env: dict[str, str]) -> str:
    """Full build with an acquiescence term per context, a wave of new votes in one context,
    then the incremental build (keeping the first build's intervals) and a full one."""
    from elicitation.models import Study

    Study.objects.filter(pk=study_id).update(graph_acquiescence="per_context")
    from moralgraph.models import GraphBuild

    first_s = timed_child(study_id, "new", env)[0]  # the build the incremental one starts from
    add_votes(study_id, max(100, votes // 200))
    analyze()
    inc_s, inc_mb, _ = timed_child(study_id, "incremental", env)
    done = GraphBuild.objects.filter(study_id=study_id).latest("pk").summary["recomputed"]
    full_s, full_mb, after = timed_child(study_id, "new", env)
    return (
        f"(per-context acquiescence, {label}: full build {first_s:.2f} s; "
        f"+{after - votes:,} votes in one context: incremental {inc_s:.2f} s, {inc_mb:.0f} MB, "
        f"{len(done['bootstrapped'])} context(s) bootstrapped, {len(done['kept'])} kept; "
        f"full {full_s:.2f} s, {full_mb:.0f} MB; full/incremental {full_s / inc_s:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["10k", "100k"], choices=list(SIZES))
    parser.add_argument("--million", action="store_true", help="add 1M votes (new path only)")
    parser.add_argument(
        "--job",
        action="store_true",
        help="also run each size as the dashboard's Build job, printing its progress bar",
    )
    parser.add_argument(
        "--baseline-root",
        type=Path,
        help="another checkout of this project (an earlier commit): its build is timed too, "
        "on the same seeded studies, as a 'baseline' column",
    )
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="also time, with an acquiescence term per context, a build after a new wave of "
        "votes (0.5%% more, in one context) that keeps the other contexts' intervals, "
        "against a full build of the same votes",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="mge-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    setup_django()
    if args.child:
        run_build(int(args.child[0]), args.child[1])
        return
    from django.core.management import call_command

    from elicitation.models import Study

    call_command("migrate", verbosity=0)
    sizes = args.sizes + (["1M"] if args.million else [])
    base = args.baseline_root
    extra = " baseline s | baseline/new |" if base else ""
    head = "| votes | values | contexts | new s | new peak MB | old s | old peak MB | old/new |"
    print(head + extra)
    print("|---|---|---|---|---|---|---|---|" + ("---|---|" if base else ""))
    last = None
    for label in sizes:
        start = time.perf_counter()
        study_id = seed_study(label)
        analyze()
        print(f"(seeded {label} in {time.perf_counter() - start:.0f} s)", file=sys.stderr)
        new_s, new_mb, votes = timed_child(study_id, "new", env)
        old = timed_child(study_id, "old", env) if label != "1M" else None
        n_values, _, n_contexts = SIZES[label]
        old_cells = f"{old[0]:.2f} | {old[1]:.0f} | {old[0] / new_s:.1f}x" if old else "— | — | —"
        size = f"{votes:,} | {n_values:,} | {n_contexts}"
        row = f"| {size} | {new_s:.2f} | {new_mb:.0f} | {old_cells} |"
        if base and old:
            base_s = timed_child(study_id, "new", env, root=base)[0]
            row += f" {base_s:.2f} | {base_s / new_s:.1f}x |"
        elif base:
            row += " — | — |"
        print(row, flush=True)
        if args.job:
            job_s, job_mb, _ = timed_child(study_id, "job", env)
            print(f"(Build job, {label}: {job_s:.2f} s, peak {job_mb:.0f} MB)", flush=True)
        if args.incremental:
            print(incremental_row(study_id, label, votes, env), flush=True)
        if old:
            last = (new_s, old[0], new_mb)
        Study.objects.filter(pk=study_id).delete()
    if last:
        new_s, old_s, new_mb = last
        ratio = old_s / new_s
        print(f"new_s={new_s:.2f} old_s={old_s:.2f} ratio={ratio:.1f}x new_peak_mb={new_mb:.0f}")


if __name__ == "__main__":
    main()
