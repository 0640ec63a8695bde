"""One update of a study's moral-graph data, so that the next participants have something to
vote on: contexts for questions that have none, cards into values, new context wordings into
canonical contexts, hypotheses where a context gained values, and the graph when votes came.

Every step is idempotent; the dashboard's Job machinery runs an update (one at a time per
study), and `dashboard.cadence` decides when one is due.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from elicitation.llm.client import is_configured
from elicitation.llm.errors import LLMOutputInvalid
from elicitation.models import Study, WisdomVote
from moralgraph import context_services, selectors, services

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
STEPS = 5


def study_refresh(*, study: Study, progress: Progress) -> dict[str, Any]:
    """Run every step in order; returns what each did. A model that is unavailable is raised
    (the job is tried again later); an answer it cannot use skips that piece only."""
    Study.objects.filter(pk=study.pk).update(refreshed_at=timezone.now())
    done: dict[str, Any] = {}
    progress(0, STEPS, "Proposing contexts.")
    done["contexts_proposed"] = _contexts_proposed(study)
    progress(1, STEPS, "Deduplicating cards.")
    done["cards_linked"] = services.cards_dedupe_pending(study=study)
    progress(2, STEPS, "Matching new contexts.")
    done["contexts_merged"] = context_services.contexts_match_pending(study=study)
    progress(3, STEPS, "Generating hypotheses.")
    done["hypotheses"] = _hypotheses_generated(study)
    progress(4, STEPS, "Building the graph.")
    done["graph_build"] = _graph_built(study)
    progress(STEPS, STEPS, "Updated.")
    return done


def refresh_message(done: dict[str, Any]) -> str:
    return (
        f"{done['cards_linked']} cards deduplicated, {done['contexts_merged']} contexts merged, "
        f"{done['hypotheses']} hypotheses stored."
    )


def _contexts_proposed(study: Study) -> int:
    if not is_configured():
        return 0
    try:
        return context_services.study_contexts_propose(study=study)
    except LLMOutputInvalid as invalid:
        logger.warning("Study %s: no usable context proposals: %s", study.pk, invalid)
        return 0


def _hypotheses_generated(study: Study) -> int:
    if not is_configured():
        return 0
    stored = 0
    for context in selectors.contexts_needing_hypotheses(study):
        try:
            stored += len(services.hypotheses_generate(context=context))
        except LLMOutputInvalid as invalid:
            logger.warning("Context %s: no usable hypotheses: %s", context.pk, invalid)
    return stored


def _graph_built(study: Study) -> int | None:
    """The id of the newest graph build, made now if votes came since the last one."""
    votes = WisdomVote.objects.filter(hypothesis__study=study).count()
    stamp = selectors.latest_graph_build_stamp(study)
    if not votes or (stamp is not None and stamp["votes"] == votes):
        return None
    return services.graph_build(study=study).pk
