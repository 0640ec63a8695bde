"""What rater-quality flags add to a graph build, the step an organizer waits on.

A seeded synthetic study (default 100k votes, about three per rater, 20 contexts, a farm of
1% of raters arriving from one client) is built twice in one process with the pure core:

* baseline: ``aggregate(votes, config)``, as before rater flags;
* with flags: ``flag_raters`` over every arrival and timed vote, then
  ``aggregate(votes, config, rater_flags=...)`` (the flagged share in the gate, and each
  context's winner recomputed without flagged raters).

The database reads that feed the flags are not timed. Both wall-clock and CPU seconds of this
process are printed: on a shared, loaded machine the wall clock mostly measures the other
processes, so the ratio on the last line is of CPU seconds
(``baseline_cpu_s=... flagged_cpu_s=... flags_cpu_s=... ratio=...x``, with flags / baseline).

    .venv/bin/python bench/rater_flags.py [--votes N] [--contexts N] [--bootstrap N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from moralgraph.core import (  # noqa: E402
    Config,
    RaterArrival,
    TimedVote,
    VoteArrays,
    aggregate,
    flag_raters,
)
from moralgraph.core.types import ANSWERS  # noqa: E402


def synthetic(n_votes: int, n_contexts: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_values, n_raters = max(n_votes // 20, 10), max(n_votes // 3, 1)
    src = rng.integers(0, n_values, n_votes)
    dst = (src + rng.integers(1, n_values, n_votes)) % n_values
    rater = rng.integers(0, n_raters, n_votes)
    context = rng.integers(0, n_contexts, n_votes)
    answer = rng.choice([0, 0, 1, 3], n_votes).astype(np.int8)
    farm = n_raters // 100
    clients = [f"c{r}" if r >= farm else "farm" for r in range(n_raters)]
    arrived = rng.uniform(0, 30 * 86400, n_raters)
    arrived[:farm] = rng.uniform(0, 300, farm)
    shown = rng.uniform(0, 30 * 86400, n_votes)
    taken = np.where(rater < farm, 0.5, rng.uniform(5, 120, n_votes))
    arrivals = [RaterArrival(str(r), clients[r], float(arrived[r])) for r in range(n_raters)]
    timed = [
        TimedVote(str(r), int(i), ANSWERS[a], float(s), float(s + t), 400)
        for i, (r, a, s, t) in enumerate(zip(rater, answer, shown, taken, strict=True))
    ]
    votes = VoteArrays.from_columns(rater.astype(str), src, dst, context, answer)
    return votes, arrivals, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--contexts", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=20)
    args = parser.parse_args()
    config = Config(bootstrap_samples=args.bootstrap, split_half_repeats=4)
    votes, arrivals, timed = synthetic(args.votes, args.contexts)
    aggregate(votes.take(np.arange(min(votes.n_votes, 2000))), config)  # first-call costs

    wall, cpu = time.perf_counter(), time.process_time()
    aggregate(votes, config)
    baseline = (time.perf_counter() - wall, time.process_time() - cpu)

    wall, cpu = time.perf_counter(), time.process_time()
    flags = flag_raters(arrivals, timed)
    flagging = time.process_time() - cpu
    result = aggregate(votes, config, rater_flags=flags)
    flagged = (time.perf_counter() - wall, time.process_time() - cpu)

    quality = result["rater_quality"]
    print(
        f"votes={votes.n_votes} raters={votes.n_raters} flagged_raters={len(flags)} "
        f"flagged_votes={quality['flagged_votes']}"
    )
    print(f"wall: baseline_s={baseline[0]:.2f} flagged_s={flagged[0]:.2f}")
    print(
        f"baseline_cpu_s={baseline[1]:.2f} flagged_cpu_s={flagged[1]:.2f} "
        f"flags_cpu_s={flagging:.2f} ratio={flagged[1] / baseline[1]:.2f}x"
    )


if __name__ == "__main__":
    main()
