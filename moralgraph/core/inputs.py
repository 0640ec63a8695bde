"""What each context's section is made from, as a digest, and which contexts changed between
two builds. Pure: no Django.

A context's section (edges, PageRank, contested sets, edge bridging) depends on its own votes
and the bridging group of each of their raters. :func:`context_fingerprints` hashes exactly
those rows, by label rather than by code (codes shift when a rater or value is added), sorted,
so the digest of a context whose votes did not change is the same in the next build.
Bradley-Terry strengths and the gate are *not* covered: the shared acquiescence term and the
rater bootstrap join the contexts, and the gate is study-wide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import numpy as np

from .types import VoteArrays


def _rows(votes: VoteArrays, groups: Mapping[str, str]) -> list[str]:
    raters = [f"{rater}\x1f{groups.get(rater, '')}" for rater in votes.raters]
    values = [str(value) for value in votes.values]
    return [
        f"{raters[r]}\x1f{values[s]}\x1f{values[d]}\x1f{a}"
        for r, s, d, a in zip(
            votes.rater.tolist(),
            votes.src.tolist(),
            votes.dst.tolist(),
            votes.answer.tolist(),
            strict=True,
        )
    ]


def context_fingerprints(
    votes: VoteArrays, groups: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Context label (as text) -> SHA-256 of its votes' sorted ``rater, group, from, to,
    answer`` rows."""
    rows = np.asarray(_rows(votes, groups or {}), dtype=object)
    out: dict[str, str] = {}
    for code, label in enumerate(votes.contexts):
        digest = hashlib.sha256()
        for row in sorted(rows[votes.context == code].tolist()):
            digest.update(row.encode() + b"\n")
        out[str(label)] = digest.hexdigest()
    return out


def contexts_changed(
    before: Mapping[str, str] | None, after: Mapping[str, str]
) -> dict[str, list[str]]:
    """Contexts of ``after`` whose votes differ from ``before`` (or that are new), those that
    did not change, and those ``before`` had that are gone; ids sorted numerically."""
    before = before or {}
    changed = [key for key, digest in after.items() if before.get(key) != digest]
    same = [key for key, digest in after.items() if before.get(key) == digest]
    gone = [key for key in before if key not in after]
    return {"changed": sorted_ids(changed), "unchanged": sorted_ids(same), "gone": sorted_ids(gone)}


def sorted_ids(keys: Iterable[str]) -> list[str]:
    """Context ids (as text) in numeric order, any others after them."""
    return sorted(keys, key=lambda key: (0, int(key), key) if key.isdigit() else (1, 0, key))
