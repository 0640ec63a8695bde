"""Plain data for the aggregation core: votes, columnar vote arrays, configuration.

A *wisdom vote* is one rater's answer to one upgrade hypothesis "from value A to
value B in context C": B is ``wiser``, ``not_wiser``, ``less_wise`` or the rater is
``unsure``.  The record form is :class:`Vote`; the fast path works on
:class:`VoteArrays`, one integer column per field, with label tables that map codes
back to the original ids.

Codes are assigned by *sorted* label, never by order of appearance, so the same
set of votes gives the same codes whatever order the records arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

ValueId = int | str
Answer = Literal["wiser", "not_wiser", "less_wise", "unsure"]

#: Answer codes, in the order of :data:`ANSWERS`.
WISER, NOT_WISER, LESS_WISE, UNSURE = 0, 1, 2, 3
ANSWERS: tuple[str, ...] = ("wiser", "not_wiser", "less_wise", "unsure")
ANSWER_CODES: dict[str, int] = {name: code for code, name in enumerate(ANSWERS)}

#: MAI's ``edge.relationship`` values and the answers they stand for.
MAI_RELATIONSHIPS: dict[str, str] = {
    "upgrade": "wiser",
    "no_upgrade": "not_wiser",
    "not_sure": "unsure",
}


def answer_code(answer: str) -> int:
    """Code of an answer name; MAI relationship names are accepted too."""
    name = MAI_RELATIONSHIPS.get(answer, answer)
    try:
        return ANSWER_CODES[name]
    except KeyError:
        raise ValueError(f"unknown answer {answer!r}; expected one of {ANSWERS}") from None


@dataclass(frozen=True, slots=True)
class Vote:
    """One rater's answer to the hypothesis ``from_value -> to_value`` in ``context``."""

    rater_id: str
    from_value: ValueId
    to_value: ValueId
    context: str
    answer: Answer

    def __post_init__(self) -> None:
        answer_code(self.answer)
        if self.from_value == self.to_value:
            raise ValueError(f"a vote needs two different values, got {self.from_value!r} twice")


def _label_key(label: Any) -> tuple[int, Any]:
    # Ints sort before strings so a mixed table still has one total order.
    return (1, label) if isinstance(label, str) else (0, label)


def sorted_unique(array: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (NumPy 2's hash-based default is slower on large int arrays)."""
    array = np.sort(array, kind="stable")
    keep = np.ones(len(array), dtype=bool)
    keep[1:] = array[1:] != array[:-1]
    return array[keep]


def _encode(labels: np.ndarray) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Codes and sorted label table for a column of labels."""
    labels = labels.reshape(-1)
    if (
        labels.dtype.kind in "iu"
        and len(labels)
        and 0 <= labels.min()
        and labels.max() < 4 * len(labels) + 1024
    ):
        # Small non-negative ints: a presence table is linear, no sort needed.
        present = np.zeros(int(labels.max()) + 1, dtype=bool)
        present[labels] = True
        remap = np.cumsum(present) - 1
        return remap[labels].astype(np.int64), tuple(np.flatnonzero(present).tolist())
    if labels.dtype.kind in "iub" or labels.dtype.kind == "U":
        table, codes = np.unique(labels, return_inverse=True)
        return codes.astype(np.int64).reshape(-1), tuple(table.tolist())
    table = sorted(set(labels.tolist()), key=_label_key)
    index = {label: code for code, label in enumerate(table)}
    codes = np.fromiter((index[x] for x in labels.tolist()), np.int64, len(labels))
    return codes, tuple(table)


def _as_array(column: Any) -> np.ndarray:
    array = np.asarray(column)
    if array.dtype.kind == "O":
        items = array.tolist()
        if all(isinstance(x, str) for x in items):
            return np.asarray(items, dtype=str)
        if all(isinstance(x, int) and not isinstance(x, bool) for x in items):
            return np.asarray(items, dtype=np.int64)
    return array


@dataclass(frozen=True, eq=False)
class VoteArrays:
    """Votes as parallel integer columns plus the label tables behind the codes.

    ``rater[i]``, ``src[i]``, ``dst[i]``, ``context[i]`` index into ``raters``,
    ``values``, ``values`` and ``contexts``; ``answer[i]`` is an answer code
    (:data:`WISER` ...).  All columns have the same length.
    """

    rater: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    context: np.ndarray
    answer: np.ndarray
    raters: tuple[str, ...]
    values: tuple[ValueId, ...]
    contexts: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.answer)
        for name in ("rater", "src", "dst", "context"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"column {name!r} has {len(getattr(self, name))} rows, not {n}")

    @classmethod
    def from_columns(
        cls,
        rater: Any,
        src: Any,
        dst: Any,
        context: Any,
        answer: Any,
    ) -> VoteArrays:
        """Encode label columns (any array-likes of ids); answers as names or codes."""
        rater_codes, raters = _encode(_as_array(rater))
        src_arr, dst_arr = _as_array(src), _as_array(dst)
        both, values = _encode(np.concatenate([src_arr, dst_arr]))
        context_codes, contexts = _encode(_as_array(context))
        n = len(src_arr)
        answers = np.asarray(answer)
        if answers.dtype.kind in "iu":
            codes = answers.astype(np.int8)
            if n and (codes.min() < 0 or codes.max() >= len(ANSWERS)):
                raise ValueError("answer codes must be in 0..3")
        else:
            codes = np.fromiter((answer_code(a) for a in answers.tolist()), np.int8, n)
        return cls(rater_codes, both[:n], both[n:], context_codes, codes, raters, values, contexts)

    @classmethod
    def from_votes(cls, votes: Iterable[Vote]) -> VoteArrays:
        """Encode :class:`Vote` records."""
        rows = list(votes)
        return cls.from_columns(
            np.asarray([v.rater_id for v in rows], dtype=object),
            np.asarray([v.from_value for v in rows], dtype=object),
            np.asarray([v.to_value for v in rows], dtype=object),
            np.asarray([v.context for v in rows], dtype=object),
            np.asarray([v.answer for v in rows], dtype=object),
        )

    @property
    def n_votes(self) -> int:
        return len(self.answer)

    @property
    def n_values(self) -> int:
        return len(self.values)

    @property
    def n_contexts(self) -> int:
        return len(self.contexts)

    @property
    def n_raters(self) -> int:
        return len(self.raters)

    def take(self, rows: np.ndarray) -> VoteArrays:
        """The votes selected by ``rows`` (indices or a boolean mask), same label tables."""
        return VoteArrays(
            self.rater[rows],
            self.src[rows],
            self.dst[rows],
            self.context[rows],
            self.answer[rows],
            self.raters,
            self.values,
            self.contexts,
        )

    def canonical(self) -> VoteArrays:
        """The same votes sorted by (context, src, dst, rater, answer).

        Integer counts do not depend on row order, but floating-point sums do; the
        estimators that sum over votes use this order so that a permuted input gives
        bit-identical results.
        """
        order = np.lexsort((self.answer, self.rater, self.dst, self.src, self.context))
        return self.take(order)


@dataclass(frozen=True)
class Config:
    """Aggregation settings; every field is recorded in the export.

    ``entropy_mode``: ``"four_field"`` (default) takes the entropy over the four
    answer counts; ``"mai_five_field"`` reproduces MAI, which also feeds the
    impressions count into it.  ``pagerank``: ``"mai"`` (no dangling
    redistribution; scores need not sum to 1) or ``"networkx"`` (dangling mass
    spread uniformly; scores sum to 1 per graph).
    """

    min_wiser: int = 2
    min_likelihood: float = 0.33
    max_entropy: float = 1.69
    entropy_mode: Literal["four_field", "mai_five_field"] = "four_field"
    pagerank: Literal["mai", "networkx"] = "mai"
    damping: float = 0.85
    iterations: int = 100
    bt_l2: float = 0.1
    bt_alpha_l2: float = 0.01
    bt_alpha: Literal["shared", "per_context"] = "shared"
    bootstrap_samples: int = 200
    ci_level: float = 0.95
    split_half_repeats: int = 20
    folds: int = 5
    bridging_min_votes: int = 3
    bridging_threshold: float = 0.5
    bridging_min_groups: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        if self.entropy_mode not in ("four_field", "mai_five_field"):
            raise ValueError(f"unknown entropy_mode {self.entropy_mode!r}")
        if self.pagerank not in ("mai", "networkx"):
            raise ValueError(f"unknown pagerank {self.pagerank!r}")
        if self.bt_alpha not in ("shared", "per_context"):
            raise ValueError(f"unknown bt_alpha {self.bt_alpha!r}")
        if not 0 < self.damping < 1:
            raise ValueError("damping must be in (0, 1)")
        if self.folds < 2:
            raise ValueError("folds must be at least 2")

    @classmethod
    def mai(cls, **overrides: Any) -> Config:
        """MAI compatibility: five-field entropy and MAI's PageRank."""
        return cls(**{"entropy_mode": "mai_five_field", "pagerank": "mai", **overrides})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
