"""Which context sections of the newest build a new build can copy instead of making.

A context's stored section is its edge rows, ranking, Bradley-Terry rows, contested sets,
winner and the titles of the values it names. Its edge rows depend only on its votes (and
their raters' bridging groups) and the config, which the context's vote digest covers
(:func:`core.inputs.context_fingerprints`); everything else is made before any edge row
(:attr:`core.report.Parts.heads`), so its digest (:func:`head_digests`) is cheap. A section is
copied when the newest build was made by the same methods and config, with the same value
titles and context names, the context's votes did not change, and its head's digest is the
same: then the section's text is the text a fresh build would write.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .aggregation import same_method
from .core.inputs import contexts_changed
from .core.report import Parts, clean, dumps
from .models import GraphBuild


def head_digests(parts: Parts) -> dict[str, str]:
    """Context id (as text) -> SHA-256 of its section without the edge rows."""
    return {str(label): _sha(clean(head)) for label, head in parts.heads.items()}


def labels_digest(head: dict[str, Any]) -> str:
    """SHA-256 of every value title and context name of a (clean) result head."""
    return _sha(head.get("labels") or {})


def reusable_sections(
    newest: GraphBuild | None, head: dict[str, Any], parts: Parts, heads: dict[str, str]
) -> set[str]:
    """Ids (as text) of the contexts whose section in ``newest`` is the section this build
    would make (see module doc); ``head`` is the clean result head, ``heads`` the
    :func:`head_digests` of ``parts``."""
    if newest is None or not same_method(newest, head["config"]):
        return set()
    summary = newest.summary
    if summary.get("labels_digest") != labels_digest(head):
        return set()
    unchanged = contexts_changed(summary.get("context_inputs"), parts.inputs)["unchanged"]
    before, entries = summary.get("section_heads") or {}, summary.get("contexts") or {}
    return {cid for cid in unchanged if cid in entries and before.get(cid) == heads.get(cid)}


def _sha(data: Any) -> str:
    return hashlib.sha256(dumps(data, cleaned=True).encode()).hexdigest()
