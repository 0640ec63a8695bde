"""Rater-quality flags: bursts from one client, answers too fast to read, copied patterns."""

import numpy as np
import pytest

from moralgraph.core import Config, GateThresholds, VoteArrays, aggregate
from moralgraph.core.raters import (
    BURST,
    CONSTANT_ANSWER,
    SAME_PATTERN,
    TOO_FAST,
    FlagThresholds,
    RaterArrival,
    TimedVote,
    burst_raters,
    flag_raters,
    flagged_share,
    leaders,
    without_raters,
)


def arrivals(client, times, prefix="r"):
    return [RaterArrival(f"{prefix}{i}", client, t) for i, t in enumerate(times)]


def vote(rater, item, answer="wiser", shown=0.0, answered=60.0, chars=400):
    return TimedVote(rater, item, answer, shown, answered, chars)


def test_five_participants_from_one_client_within_ten_minutes_are_a_burst():
    found = burst_raters(arrivals("c1", [0, 60, 120, 180, 240]), count=5, window_seconds=600)
    assert found == {"r0", "r1", "r2", "r3", "r4"}


def test_the_same_arrivals_spread_over_hours_are_not_a_burst():
    spread = arrivals("c1", [0, 3600, 7200, 10800, 14400])
    assert burst_raters(spread, count=5, window_seconds=600) == set()


def test_different_clients_never_make_a_burst_together():
    mixed = [RaterArrival(f"r{i}", f"c{i}", float(i)) for i in range(10)]
    assert burst_raters(mixed, count=2, window_seconds=600) == set()


def test_participants_without_a_known_client_are_not_grouped():
    unknown = arrivals("", [0, 1, 2, 3, 4, 5])
    assert burst_raters(unknown, count=2, window_seconds=600) == set()


def test_only_the_raters_inside_the_window_are_flagged():
    times = [0, 10, 20, 5000]
    assert burst_raters(arrivals("c1", times), count=3, window_seconds=600) == {"r0", "r1", "r2"}


def test_a_vote_sooner_than_the_text_can_be_read_flags_its_rater():
    # 400 characters at 40 per second take 10 s; answered after 2 s.
    votes = [vote("fast", 1, answered=2.0), vote("slow", 1, answered=30.0)]
    assert flag_raters([], votes, FlagThresholds()) == {"fast": (TOO_FAST,)}


def test_one_fast_vote_among_many_read_ones_is_not_flagged():
    votes = [vote("r", 1, answered=2.0)] + [vote("r", i, answered=30.0) for i in range(2, 6)]
    assert flag_raters([], votes, FlagThresholds(fast_share=0.5)) == {}


def test_a_vote_without_a_known_impression_is_not_called_fast():
    assert flag_raters([], [vote("r", 1, shown=None, answered=0.1)]) == {}


def test_raters_answering_the_same_items_identically_are_flagged_as_a_group():
    pattern = [(1, "wiser"), (2, "not_wiser"), (3, "wiser"), (4, "unsure")]
    votes = [vote(r, item, answer) for r in ("a", "b", "c") for item, answer in pattern]
    votes += [vote("d", item, "wiser") for item, _ in pattern]
    flags = flag_raters([], votes, FlagThresholds(pattern_min_votes=4, pattern_group=3))
    assert flags == {"a": (SAME_PATTERN,), "b": (SAME_PATTERN,), "c": (SAME_PATTERN,)}


def test_two_raters_who_agree_are_not_a_pattern_group_of_three():
    votes = [vote(r, i) for r in ("a", "b") for i in range(5)]
    assert flag_raters([], votes, FlagThresholds(constant_min_votes=99)) == {}


def test_one_answer_to_every_item_is_a_constant_answer():
    votes = [vote("lazy", i, "unsure") for i in range(6)]
    votes += [vote("ok", i, "wiser" if i % 2 else "not_wiser") for i in range(6)]
    assert flag_raters([], votes) == {"lazy": (CONSTANT_ANSWER,)}


def test_few_votes_are_too_few_to_call_constant():
    assert flag_raters([], [vote("r", i) for i in range(3)]) == {}


def test_a_rater_can_carry_several_flags_in_a_fixed_order():
    votes = [vote("r0", i, answered=0.5) for i in range(6)]
    flags = flag_raters(arrivals("c", [0, 1, 2, 3, 4]), votes)
    assert flags["r0"] == (BURST, TOO_FAST, CONSTANT_ANSWER)
    assert flags["r4"] == (BURST,)


def farm_votes():
    """Honest raters prefer value 2 over 1; three farm raters push value 9 over both."""
    rater, src, dst, ctx, answer = [], [], [], [], []
    for r in range(12):
        rater += [f"h{r}"]
        src += [1]
        dst += [2]
        ctx += [7]
        answer += [0]
    for r in range(3):
        for a in (1, 2):
            rater += [f"f{r}"]
            src += [a]
            dst += [9]
            ctx += [7]
            answer += [0]
    return VoteArrays.from_columns(rater, src, dst, ctx, answer)


def test_without_raters_drops_exactly_their_votes():
    votes = farm_votes()
    rest = without_raters(votes, {"f0", "f1", "f2"})
    assert rest.n_votes == 12
    assert set(rest.raters) == {f"h{r}" for r in range(12)}
    assert 9 not in rest.values


def test_flagged_share_counts_votes_not_raters():
    assert flagged_share(farm_votes(), {"f0", "f1", "f2"}) == (6, pytest.approx(6 / 18))


def test_the_winner_without_flagged_raters_is_the_honest_one():
    votes = farm_votes()
    assert leaders(votes, Config())[7] == 9
    assert leaders(without_raters(votes, {"f0", "f1", "f2"}), Config())[7] == 2


def test_aggregate_reports_flagged_raters_and_fails_the_gate_above_the_share():
    flags = {f"f{r}": (BURST,) for r in range(3)}
    result = aggregate(
        farm_votes(),
        Config(bootstrap_samples=10, split_half_repeats=2),
        thresholds=GateThresholds(max_flagged_vote_share=0.2),
        rater_flags=flags,
    )
    quality = result["rater_quality"]
    assert quality["flagged_votes"] == 6
    assert quality["raters"]["f0"] == {"flags": [BURST], "votes": 2}
    assert quality["by_flag"][BURST] == {"raters": 3, "votes": 6}
    assert quality["winners_without_flagged"] == {7: 2}
    failures = result["reliability"]["gate"]["failures"]
    assert any("flagged raters 33.3% > 20%" in f for f in failures)
    assert any("flagged raters" in r for r in result["contexts"][7]["winner"]["reasons"])


def test_aggregate_without_flags_keeps_its_old_shape():
    result = aggregate(farm_votes(), Config(bootstrap_samples=10, split_half_repeats=2))
    assert "rater_quality" not in result
    assert not any("flagged" in f for f in result["reliability"]["gate"]["failures"])


def test_an_empty_vote_set_survives_the_filter():
    empty = without_raters(farm_votes(), {f"h{r}" for r in range(12)} | {"f0", "f1", "f2"})
    assert empty.n_votes == 0
    assert np.asarray(empty.rater).size == 0


def reference_flags(votes, thresholds):
    """The flags as the per-vote loops made them before the columns (no burst: no arrivals)."""
    from collections import defaultdict

    answers, timed = defaultdict(dict), defaultdict(list)
    for v in votes:
        answers[v.rater_id][v.item] = v.answer
        if v.shown_at is not None:
            need = v.shown_chars / thresholds.reading_chars_per_second
            timed[v.rater_id].append(v.answered_at - v.shown_at < need)
    share = thresholds.fast_share
    fast = {r for r, f in timed.items() if any(f) and sum(f) >= share * len(f)}
    patterns = defaultdict(list)
    for rater, given in answers.items():
        if len(given) >= thresholds.pattern_min_votes:
            patterns[frozenset(given.items())].append(rater)
    same = {
        r for group in patterns.values() if len(group) >= thresholds.pattern_group for r in group
    }
    constant = {
        r
        for r, given in answers.items()
        if len(given) >= thresholds.constant_min_votes and len(set(given.values())) == 1
    }
    found = defaultdict(set)
    for flag, raters in ((TOO_FAST, fast), (SAME_PATTERN, same), (CONSTANT_ANSWER, constant)):
        for rater in raters:
            found[rater].add(flag)
    order = (TOO_FAST, SAME_PATTERN, CONSTANT_ANSWER)
    return {r: tuple(f for f in order if f in flags) for r, flags in sorted(found.items())}


def test_the_flags_from_columns_are_the_flags_of_the_per_vote_rules():
    rng = np.random.default_rng(5)
    votes = []
    for r in range(400):
        kind, items = r % 4, rng.choice(30, size=int(rng.integers(1, 9)), replace=False)
        for item in items.tolist() + items[:1].tolist():  # one item answered twice
            answer = "wiser" if kind == 0 else ["wiser", "not_wiser", "unsure"][item % 3]
            shown = None if rng.random() < 0.2 else float(rng.uniform(0, 100))
            taken = 1.0 if kind == 1 else float(rng.uniform(0, 40))
            votes.append(vote(f"r{r}", item, answer, shown, (shown or 0.0) + taken, 300))
    thresholds = FlagThresholds(pattern_min_votes=3, pattern_group=2, constant_min_votes=4)

    flags = flag_raters([], votes, thresholds)

    assert flags == reference_flags(votes, thresholds)
    assert {f for have in flags.values() for f in have} == {TOO_FAST, SAME_PATTERN, CONSTANT_ANSWER}
