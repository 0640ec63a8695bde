"""Bridging: is an edge, or a context's winner, supported across demographic groups?

Raters are split by a ``rater id -> group`` mapping (e.g. US political
affiliation); raters with no group are left out.  Within group ``g``:

* **edge** ``A -> B``: with the pair's counts from the group's votes only (the same
  counting as :mod:`.edges`), ``decisive = w + n + l`` and
  ``support = w / decisive`` (the share of the group's decisive answers that call
  B wiser; unsure answers neither support nor oppose), plus MAI's likelihood
  ``(w - l) / (w + n + l + u)``;
* **winner** ``W`` of a context: among the group's decisive votes in that context
  on a hypothesis that involves ``W``, those *for* ``W`` (``X -> W`` answered
  wiser, or ``W -> X`` answered not wiser / less wise) over all of them.

An edge or winner is **bridged** when at least ``min_groups`` groups have
``decisive >= min_votes`` and every such group has ``support >= threshold``
(defaults 2 groups, 3 votes, 0.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from .edges import GLOBAL, EdgeTable, summarize_edges
from .types import LESS_WISE, NOT_WISER, WISER, Config, VoteArrays


@dataclass(frozen=True, eq=False)
class Bridging:
    """Per row (edge or winner) and group: counts, support and the bridged verdict.

    ``favour[i, g]`` and ``decisive[i, g]`` are counts, ``support[i, g]`` their ratio
    (NaN when ``decisive`` is 0), ``qualified[i, g]`` whether the group has enough
    votes to count, ``bridged[i]`` the verdict.
    """

    groups: tuple[str, ...]
    favour: np.ndarray
    decisive: np.ndarray
    support: np.ndarray
    qualified: np.ndarray
    bridged: np.ndarray
    likelihood: np.ndarray | None = None


def rater_groups(
    votes: VoteArrays, groups: Mapping[str, str]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group code of every rater (``-1`` when unknown) and the sorted group labels."""
    labels = tuple(sorted({groups[r] for r in votes.raters if r in groups}))
    index = {label: code for code, label in enumerate(labels)}
    codes = np.array([index.get(groups.get(r), -1) for r in votes.raters], dtype=np.int64)
    return codes, labels


def _verdict(
    groups: tuple[str, ...], favour: np.ndarray, decisive: np.ndarray, config: Config
) -> Bridging:
    support = np.full(favour.shape, np.nan)
    np.divide(favour, decisive, out=support, where=decisive > 0)
    qualified = decisive >= config.bridging_min_votes
    enough = qualified.sum(axis=1) >= config.bridging_min_groups
    agree = np.all(~qualified | (support >= config.bridging_threshold), axis=1)
    return Bridging(groups, favour, decisive, support, qualified, enough & agree)


def edge_bridging(
    votes: VoteArrays, groups: Mapping[str, str], table: EdgeTable, config: Config | None = None
) -> Bridging:
    """Group support for every row of ``table`` (a per-context or a global edge table)."""
    config = config or Config()
    codes, labels = rater_groups(votes, groups)
    by_context = bool(len(table)) and not np.all(table.context == GLOBAL)
    nv = np.int64(max(votes.n_values, 1))
    keys = ((table.context + 1) * nv + table.src) * nv + table.dst
    shape = (len(table), len(labels))
    wiser, decisive, likelihood = (
        np.zeros(shape, np.int64),
        np.zeros(shape, np.int64),
        np.zeros(shape),
    )
    for g in range(len(labels)):
        part = summarize_edges(votes.take(codes[votes.rater] == g), config, by_context=by_context)
        part_keys = ((part.context + 1) * nv + part.src) * nv + part.dst
        pos = np.clip(np.searchsorted(part_keys, keys), 0, max(len(part) - 1, 0))
        found = part_keys[pos] == keys if len(part) else np.zeros(len(keys), dtype=bool)
        wiser[found, g] = part.wiser[pos[found]]
        decisive[found, g] = (part.wiser + part.not_wiser + part.less_wise)[pos[found]]
        likelihood[found, g] = part.likelihood[pos[found]]
    verdict = _verdict(labels, wiser, decisive, config)
    return replace(verdict, likelihood=likelihood)


def winner_bridging(
    votes: VoteArrays,
    groups: Mapping[str, str],
    winners: Mapping[int, int],
    config: Config | None = None,
) -> tuple[list[int], Bridging]:
    """Group support for each context's winner; ``winners`` maps context code to value code.

    Returns the context codes in row order (sorted) and the :class:`Bridging` rows.
    """
    config = config or Config()
    codes, labels = rater_groups(votes, groups)
    contexts = sorted(winners)
    winner_of = np.full(max(votes.n_contexts, 1), -1, dtype=np.int64)
    row_of = np.full(max(votes.n_contexts, 1), -1, dtype=np.int64)
    for row, ctx in enumerate(contexts):
        winner_of[ctx], row_of[ctx] = winners[ctx], row
    w = winner_of[votes.context]
    says_dst_wiser = votes.answer == WISER
    denies = np.isin(votes.answer, (NOT_WISER, LESS_WISE))
    involved = (w >= 0) & ((votes.dst == w) | (votes.src == w)) & (says_dst_wiser | denies)
    favour = ((votes.dst == w) & says_dst_wiser) | ((votes.src == w) & denies)
    group = codes[votes.rater]
    use = involved & (group >= 0)
    cell = row_of[votes.context[use]] * len(labels) + group[use]
    size = len(contexts) * len(labels)
    decisive = np.bincount(cell, minlength=size).reshape(len(contexts), len(labels))
    favour_n = np.bincount(cell, weights=favour[use], minlength=size).astype(np.int64)
    return contexts, _verdict(labels, favour_n.reshape(decisive.shape), decisive, config)
