"""Rater quality: which raters' votes look like one person's many voices, or no reading at all.

Pure: records in, flags out; times are seconds (any epoch) passed in, never read from a clock.

* ``burst``: at least ``burst_count`` raters from one client (a keyed hash of its address)
  arrived within ``burst_minutes`` of each other; every rater in such a window is flagged.
* ``too_fast``: at least ``fast_share`` of a rater's timed votes came sooner after the item was
  shown than its text can be read at ``reading_chars_per_second``.
* ``same_pattern``: at least ``pattern_group`` raters gave the same answers on the same items,
  each with ``pattern_min_votes`` votes or more.
* ``constant_answer``: a rater gave one answer throughout, over ``constant_min_votes`` votes or
  more.

:func:`flagged_share` and :func:`without_raters` let the aggregation count and drop them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from .edges import summarize_edges
from .rank import rank_edges
from .reliability import Gate, GateThresholds, ReliabilityReport
from .types import Config, VoteArrays

BURST, TOO_FAST, SAME_PATTERN, CONSTANT_ANSWER = (
    "burst",
    "too_fast",
    "same_pattern",
    "constant_answer",
)
FLAGS: tuple[str, ...] = (BURST, TOO_FAST, SAME_PATTERN, CONSTANT_ANSWER)
FLAG_REASONS: dict[str, str] = {
    BURST: "one of many participants from one client in a short time",
    TOO_FAST: "answered faster than the text can be read",
    SAME_PATTERN: "the same answers on the same items as other raters",
    CONSTANT_ANSWER: "the same answer to every item",
}


@dataclass(frozen=True)
class FlagThresholds:
    burst_count: int = 5
    burst_minutes: float = 10.0
    reading_chars_per_second: float = 40.0
    fast_share: float = 0.5
    pattern_min_votes: int = 4
    pattern_group: int = 3
    constant_min_votes: int = 6


@dataclass(frozen=True, slots=True)
class RaterArrival:
    """A rater, the keyed hash of the client it came from ('' when unknown), and when."""

    rater_id: str
    client_hash: str
    arrived_at: float


@dataclass(frozen=True, slots=True)
class TimedVote:
    """One answer: to which item, when the item was first shown, when answered, how much
    text the item showed (characters)."""

    rater_id: str
    item: int | str
    answer: str
    shown_at: float | None
    answered_at: float
    shown_chars: int


@dataclass(frozen=True, eq=False)
class TimedColumns:
    """Timed votes as columns, one row per :class:`TimedVote`: ``rater`` and ``answer`` as
    codes into ``raters`` (ids as text) and ``answers``, ``item`` as integer ids or codes
    (only equality matters), ``shown_at`` NaN where never recorded."""

    raters: tuple[str, ...]
    rater: np.ndarray
    item: np.ndarray
    answers: tuple[str, ...]
    answer: np.ndarray
    shown_at: np.ndarray
    answered_at: np.ndarray
    shown_chars: np.ndarray

    @classmethod
    def of(cls, votes: Iterable[TimedVote]) -> TimedColumns:
        rows = list(votes)
        raters, rater = _codes([v.rater_id for v in rows])
        answers, answer = _codes([v.answer for v in rows])
        shown = [np.nan if v.shown_at is None else v.shown_at for v in rows]
        return cls(
            tuple(raters),
            rater,
            _codes([v.item for v in rows])[1],
            tuple(answers),
            answer,
            np.asarray(shown, dtype=np.float64),
            np.asarray([v.answered_at for v in rows], dtype=np.float64),
            np.asarray([v.shown_chars for v in rows], dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self.rater)

    def records(self) -> list[TimedVote]:
        """The rows as :class:`TimedVote` (items as they are here)."""
        ids = np.asarray(self.raters, dtype=object)[self.rater].tolist()
        answers = np.asarray(self.answers, dtype=object)[self.answer].tolist()
        shown = np.where(np.isnan(self.shown_at), None, self.shown_at).tolist()
        columns = (self.answered_at.tolist(), self.shown_chars.astype(np.int64).tolist())
        return list(map(TimedVote, ids, self.item.tolist(), answers, shown, *columns))


def _codes(labels: list) -> tuple[list, np.ndarray]:
    """Labels in order of first sight, and each row's code (labels of any hashable kind)."""
    index: dict = {}
    codes = np.fromiter((index.setdefault(x, len(index)) for x in labels), np.int64, len(labels))
    return list(index), codes


def _as_columns(votes: Iterable[TimedVote] | TimedColumns) -> TimedColumns:
    return votes if isinstance(votes, TimedColumns) else TimedColumns.of(votes)


def flag_raters(
    arrivals: Iterable[RaterArrival],
    votes: Iterable[TimedVote] | TimedColumns,
    thresholds: FlagThresholds | None = None,
) -> dict[str, tuple[str, ...]]:
    """Rater id -> its flags (in :data:`FLAGS` order); unflagged raters are left out."""
    t = thresholds or FlagThresholds()
    columns = _as_columns(votes)
    answers = _answers_by_rater(columns)
    found: dict[str, set[str]] = defaultdict(set)
    for flag, raters in (
        (BURST, burst_raters(arrivals, t.burst_count, t.burst_minutes * 60)),
        (TOO_FAST, fast_raters(columns, t.reading_chars_per_second, t.fast_share)),
        (SAME_PATTERN, _same_pattern(answers, t.pattern_min_votes, t.pattern_group)),
        (CONSTANT_ANSWER, _constant(answers, t.constant_min_votes)),
    ):
        for rater in raters:
            found[rater].add(flag)
    return {rater: tuple(f for f in FLAGS if f in flags) for rater, flags in sorted(found.items())}


def burst_raters(arrivals: Iterable[RaterArrival], count: int, window_seconds: float) -> set[str]:
    """Raters in any run of ``count`` or more arrivals from one client within the window."""
    by_client: dict[str, list[RaterArrival]] = defaultdict(list)
    for arrival in arrivals:
        if arrival.client_hash:
            by_client[arrival.client_hash].append(arrival)
    flagged: set[str] = set()
    for group in by_client.values():
        flagged |= _bursts(sorted(group, key=lambda a: a.arrived_at), count, window_seconds)
    return flagged


def _bursts(ordered: list[RaterArrival], count: int, window_seconds: float) -> set[str]:
    flagged: set[str] = set()
    start = 0
    for end, arrival in enumerate(ordered):
        while arrival.arrived_at - ordered[start].arrived_at > window_seconds:
            start += 1
        if end - start + 1 >= count:
            flagged.update(a.rater_id for a in ordered[start : end + 1])
    return flagged


def reading_seconds(chars: int, chars_per_second: float) -> float:
    """The least time a reader needs for ``chars`` characters of text."""
    return chars / chars_per_second if chars_per_second > 0 else 0.0


def is_too_fast(vote: TimedVote, chars_per_second: float) -> bool:
    if vote.shown_at is None:
        return False
    taken = vote.answered_at - vote.shown_at
    return taken < reading_seconds(vote.shown_chars, chars_per_second)


def fast_raters(
    votes: Iterable[TimedVote] | TimedColumns, chars_per_second: float, share: float
) -> set[str]:
    """Raters whose votes were too fast to have been read in at least ``share`` of cases."""
    v = _as_columns(votes)
    timed = ~np.isnan(v.shown_at)
    need = v.shown_chars / chars_per_second if chars_per_second > 0 else 0.0
    fast = timed & ((v.answered_at - v.shown_at) < need)
    n = len(v.raters)
    counted = np.bincount(v.rater[timed], minlength=n)
    too_fast = np.bincount(v.rater[fast], minlength=n)
    flagged = np.flatnonzero((too_fast > 0) & (too_fast >= share * counted))
    return {v.raters[r] for r in flagged.tolist()}


def same_pattern_raters(
    votes: Iterable[TimedVote] | TimedColumns, min_votes: int, group: int
) -> set[str]:
    """Raters in a group of ``group`` or more whose (item, answer) sets are identical."""
    return _same_pattern(_answers_by_rater(_as_columns(votes)), min_votes, group)


def _same_pattern(answers: _Answers, min_votes: int, group: int) -> set[str]:
    by_pattern: dict[bytes, list[str]] = defaultdict(list)
    for rater, pairs in answers.eligible(min_votes):
        by_pattern[pairs.tobytes()].append(rater)
    return {r for raters in by_pattern.values() if len(raters) >= group for r in raters}


def constant_raters(votes: Iterable[TimedVote] | TimedColumns, min_votes: int) -> set[str]:
    """Raters who gave one answer to each of ``min_votes`` or more items."""
    return _constant(_answers_by_rater(_as_columns(votes)), min_votes)


def _constant(answers: _Answers, min_votes: int) -> set[str]:
    if not len(answers.answer):
        return set()
    low = np.minimum.reduceat(answers.answer, answers.starts)
    high = np.maximum.reduceat(answers.answer, answers.starts)
    one = (answers.sizes >= min_votes) & (low == high)
    return {answers.raters[r] for r in answers.rater[np.flatnonzero(one)].tolist()}


@dataclass(frozen=True, eq=False)
class _Answers:
    """Each rater's last answer to each item it answered: rows sorted by rater then item;
    per rater with any (``rater``, ids in ``raters``) where its rows start, and how many."""

    raters: tuple[str, ...]
    item: np.ndarray
    answer: np.ndarray
    rater: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray

    def eligible(self, min_votes: int):
        """(rater id, its (item, answer) codes as one sorted array) for raters with at
        least ``min_votes`` items."""
        pairs = self.item * (int(self.answer.max(initial=0)) + 1) + self.answer
        for r, start, size in zip(
            self.rater.tolist(), self.starts.tolist(), self.sizes.tolist(), strict=True
        ):
            if size >= min_votes:
                yield self.raters[r], pairs[start : start + size]


def _answers_by_rater(v: TimedColumns) -> _Answers:
    """The last vote of each (rater, item), as :class:`_Answers`."""
    key = v.rater.astype(np.int64) * (int(v.item.max(initial=0)) + 1) + v.item
    _, first_from_end = np.unique(key[::-1], return_index=True)  # sorted by rater, then item
    rows = len(key) - 1 - first_from_end
    rater = v.rater[rows]
    starts = np.flatnonzero(np.r_[True, rater[1:] != rater[:-1]]) if len(rows) else rows
    return _Answers(
        v.raters,
        v.item[rows].astype(np.int64),
        v.answer[rows].astype(np.int64),
        rater[starts],
        starts,
        np.diff(np.r_[starts, len(rows)]),
    )


def raters_with(flags: Mapping[str, Collection[str]], flag: str) -> set[str]:
    """The raters carrying ``flag``."""
    return {rater for rater, have in flags.items() if flag in have}


def _rater_mask(votes: VoteArrays, raters: Collection[str]) -> np.ndarray:
    codes = [code for code, rater in enumerate(votes.raters) if rater in raters]
    return np.isin(votes.rater, np.asarray(codes, dtype=np.int64))


def without_raters(votes: VoteArrays, raters: Collection[str]) -> VoteArrays:
    """The votes of everyone but ``raters``, label tables re-encoded to what remains."""
    rest = votes.take(~_rater_mask(votes, raters))
    return VoteArrays.from_columns(
        np.asarray(votes.raters, dtype=str)[rest.rater],
        np.asarray(votes.values)[rest.src],
        np.asarray(votes.values)[rest.dst],
        np.asarray(votes.contexts)[rest.context],
        rest.answer,
    )


def flagged_share(votes: VoteArrays, raters: Collection[str]) -> tuple[int, float]:
    """How many of the votes come from ``raters``, and their share (0 with no votes)."""
    flagged = int(_rater_mask(votes, raters).sum())
    return flagged, (flagged / votes.n_votes if votes.n_votes else 0.0)


def leaders(votes: VoteArrays, config: Config) -> dict[int | str, int | str]:
    """Context label -> the top PageRank value of its kept edges (the would-be winner)."""
    scores = rank_edges(summarize_edges(votes, config), config)
    top: dict[int | str, int | str] = {}
    for context, value in zip(scores.context.tolist(), scores.value.tolist(), strict=True):
        top.setdefault(votes.contexts[context], votes.values[value])
    return top


def gate_with_flags(
    report: ReliabilityReport, share: float, thresholds: GateThresholds
) -> ReliabilityReport:
    """The report, its gate failed when flagged raters cast more than the allowed share."""
    limit = thresholds.max_flagged_vote_share
    if share <= limit:
        return report
    failure = f"votes from flagged raters {share:.1%} > {limit:.0%}"
    check = f"votes from flagged raters > {limit:.0%}"
    gate = Gate(False, (*report.gate.failures, failure), (*report.gate.checks, check))
    return ReliabilityReport(
        report.split_half, report.votes_per_edge, report.votes_per_rater, report.heldout, gate
    )


def quality_section(
    votes: VoteArrays, flags: Mapping[str, Collection[str]], config: Config
) -> dict:
    """What the reports page and the export say about flagged raters and their weight."""
    flagged = set(flags)
    count, share = flagged_share(votes, flagged)
    per_rater = np.bincount(votes.rater, minlength=votes.n_raters)
    cast = {rater: int(per_rater[code]) for code, rater in enumerate(votes.raters)}
    return {
        "raters": {
            r: {"flags": list(f), "votes": cast.get(r, 0)} for r, f in sorted(flags.items())
        },
        "flagged_votes": count,
        "flagged_share": share,
        "by_flag": {
            flag: {
                "raters": len(raters_with(flags, flag)),
                "votes": sum(cast.get(r, 0) for r in raters_with(flags, flag)),
            }
            for flag in FLAGS
        },
        "winners_without_flagged": leaders(without_raters(votes, flagged), config),
    }
