"""Which upgrade hypotheses to show a voter next. Pure: plain records in, plain records out.

The rule, in order:

1. Never a hypothesis whose target (value B, ``to_value_id``) is one of the voter's own values:
   nobody judges whether their own value is the wiser one. Never one they already saw or voted
   on, and never the same hypothesis twice in a draw.
2. Hypotheses in the voter's own contexts (those of their card and question) come first; others
   fill the draw only when the voter's contexts run out. The voter knows those situations best.
3. Within that, the fewest votes first: the graph needs votes most where it has fewest.
4. Then the most uncertain first. With ``w`` votes saying "wiser", ``u`` "unsure" and ``n``
   "not wiser" or "less wise", the share of voters who find B wiser has the posterior
   ``Beta(a, b)`` with ``a = 1 + w + u/2`` and ``b = 1 + n + u/2`` (uniform prior, an unsure
   vote counted half each way). Its variance ``ab / ((a + b)^2 (a + b + 1))`` is largest for
   few votes split evenly and shrinks as votes agree.
5. Remaining ties are broken at random with the injected ``random.Random``; candidates are put
   in id order first, so the same candidates and seed always give the same draw.

The draw is returned in this priority order, which is also the order it is shown in: a voter who
stops early has still answered where it mattered most.
"""

import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass

MIN_DRAW = 3
MAX_DRAW = 10
DEFAULT_DRAW = 5


@dataclass(frozen=True)
class Candidate:
    """An active hypothesis "from value A to value B in a context", with its votes so far."""

    id: int
    context_id: int
    from_value_id: int
    to_value_id: int
    votes: int = 0
    wiser: int = 0
    not_wiser: int = 0
    less_wise: int = 0
    unsure: int = 0


def draw_size(requested: int | None) -> int:
    """The number of hypotheses per voter, kept within 3 to 10 (5 when not set)."""
    if requested is None:
        return DEFAULT_DRAW
    return min(max(requested, MIN_DRAW), MAX_DRAW)


def uncertainty(candidate: Candidate) -> float:
    """Variance of the Beta posterior on the share of voters who find B wiser (rule 4)."""
    a = 1 + candidate.wiser + candidate.unsure / 2
    b = 1 + candidate.not_wiser + candidate.less_wise + candidate.unsure / 2
    return a * b / ((a + b) ** 2 * (a + b + 1))


def choose(
    candidates: Iterable[Candidate],
    *,
    own_value_ids: Collection[int],
    seen_ids: Collection[int],
    context_ids: Collection[int] = (),
    count: int = DEFAULT_DRAW,
    rng: random.Random,
) -> list[Candidate]:
    """Up to `count` hypotheses for one voter, in the order to show them (see the module doc)."""
    own, seen, preferred = set(own_value_ids), set(seen_ids), set(context_ids)
    unique = {c.id: c for c in candidates if c.to_value_id not in own and c.id not in seen}
    ranked = sorted(
        (c.context_id not in preferred, c.votes, -uncertainty(c), rng.random(), c.id)
        for c in sorted(unique.values(), key=lambda c: c.id)
    )
    return [unique[key[-1]] for key in ranked[: max(count, 0)]]
