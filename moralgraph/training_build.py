"""Building a bundle's ``training/`` files: N answers per prompt, scored, best against worst.

For each prompt: find its context (the values reranker retrieves by embeddings; without it,
:func:`guided_answers.lexical_context`), ask the configured LLM for half the answers with the
context's top values as a system prompt and half with no system prompt, score them, and keep
the best and the worst as a preference pair. A prompt no context fits gets no answers.

Scorers (``scorer``): ``"reranker"`` is the values reranker (:data:`RERANKER_MODULE`, helper
library ``moralgraph.reranker``); ``"guidance"`` scores an answer 1 when values guided it and
0 otherwise, so pairs are value-guided against naive; ``"auto"`` takes the reranker when its
module and model load, else guidance. Every row records the scorer's version.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from elicitation.llm.client import CallTag, chat
from elicitation.llm.errors import LLMBudgetExceeded, LLMError, LLMNotConfigured

from . import guided_answers
from .export import bundle as bundle_files
from .export import formats, manifest, training
from .export.training import Candidate, PromptItem, Versions
from .guided_answers import Guidance, PromptText
from .reranker.bundle import Bundle, load_bundle

logger = logging.getLogger(__name__)

RERANKER_MODULE = "moralgraph.reranker.api"
PURPOSE = "training_answer"
SCORERS = ("auto", "reranker", "guidance")


class Scorer(Protocol):
    version: str

    def retrieve(self, prompt: str) -> str | None: ...

    def score(
        self, prompt: str, context_id: str, candidates: Sequence[Candidate]
    ) -> list[float]: ...


class GuidanceScorer:
    """Pairs value-guided answers against naive ones; retrieval by shared words."""

    version = training.GUIDANCE_SCORER_VERSION

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    def retrieve(self, prompt: str) -> str | None:
        return guided_answers.lexical_context(prompt, self.bundle)

    def score(self, prompt: str, context_id: str, candidates: Sequence[Candidate]) -> list[float]:
        return training.guidance_scores(candidates)


class RerankerScorer:
    """The values reranker: retrieval by embeddings, scores against the context's values."""

    def __init__(self, bundle: Bundle, *, device: str = "cpu") -> None:
        api = importlib.import_module(RERANKER_MODULE)
        from .reranker.config import RerankerConfig

        config = RerankerConfig(device=device)
        self.reranker = api.get_reranker(bundle, config)  # loads the model: slow, once
        self.version = config.version

    def retrieve(self, prompt: str) -> str | None:
        result = self.reranker.rerank(prompt, [])
        return None if result.abstained or not result.contexts else result.contexts[0]["id"]

    def score(self, prompt: str, context_id: str, candidates: Sequence[Candidate]) -> list[float]:
        texts = [candidate.text for candidate in candidates]
        return list(self.reranker.rerank(prompt, texts, contexts=[context_id]).scores)


def make_scorer(kind: str, bundle: Bundle, *, device: str = "cpu") -> Scorer:
    """The scorer called ``kind``; ``"auto"`` falls back to guidance when the reranker
    cannot load (module missing, or the optional ``ml`` extra absent)."""
    if kind == "guidance":
        return GuidanceScorer(bundle)
    if kind == "reranker":
        return RerankerScorer(bundle, device=device)
    if kind != "auto":
        raise ValueError(f"unknown scorer {kind!r}; expected one of {SCORERS}")
    try:
        return RerankerScorer(bundle, device=device)
    except (ImportError, RuntimeError) as exc:  # EncoderUnavailable is a RuntimeError
        logger.warning("Values reranker unavailable (%s); pairing guided against naive.", exc)
        return GuidanceScorer(bundle)


@dataclass
class BuildSummary:
    out_dir: Path
    scorer_version: str
    prompts: int = 0
    abstained: int = 0
    candidates: int = 0
    failed_calls: int = 0
    pairs: int = 0

    def lines(self) -> list[str]:
        return [
            f"Wrote {self.out_dir}",
            f"scorer: {self.scorer_version}",
            f"prompts: {self.prompts} ({self.abstained} matched no context)",
            f"candidates: {self.candidates} ({self.failed_calls} LLM calls failed)",
            f"preference pairs: {self.pairs}",
        ]


def training_build(
    *,
    bundle_dir: Path | str,
    prompts: Sequence[PromptText],
    n: int,
    out_dir: Path | str | None = None,
    scorer: str | Scorer = "auto",
    device: str = "cpu",
    model: str | None = None,
    min_margin: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> BuildSummary:
    """Generate, score and write the training files; the bundle's card and manifest list
    them when ``out_dir`` is the bundle's ``training/`` (the default)."""
    if n < 2:
        raise ValueError("Need at least 2 answers per prompt to make a pair.")
    root = Path(bundle_dir)
    out = Path(out_dir) if out_dir is not None else root / "training"
    graph = load_bundle(root)
    chosen = make_scorer(scorer, graph, device=device) if isinstance(scorer, str) else scorer
    summary = BuildSummary(out_dir=out, scorer_version=chosen.version)
    items = []
    for done, prompt in enumerate(prompts, start=1):
        items.append(_prompt_item(prompt, graph, chosen, n, model, summary))
        if progress is not None:
            progress(done, len(prompts))
    versions = Versions(graph.graph_version, chosen.version)
    rows = training.training_rows(items, versions, min_margin=min_margin)
    summary.pairs = len(rows["trl"])
    generator = _generator(n, model, min_margin)
    _write(root, out, rows, versions, generator, summary)
    return summary


def _prompt_item(
    prompt: PromptText,
    graph: Bundle,
    scorer: Scorer,
    n: int,
    model: str | None,
    summary: BuildSummary,
) -> PromptItem:
    summary.prompts += 1
    context_id = scorer.retrieve(prompt.text)
    if context_id is None:
        summary.abstained += 1
        return PromptItem(prompt.id, prompt.text, None)
    guidance = guided_answers.guidance_for(graph, context_id)
    candidates = _candidates(prompt, guidance, n, model, summary)
    item = PromptItem(prompt.id, prompt.text, context_id, guidance.value_ids, tuple(candidates))
    if not candidates:
        return item
    return training.with_scores(item, scorer.score(prompt.text, context_id, candidates))


def _candidates(
    prompt: PromptText, guidance: Guidance, n: int, model: str | None, summary: BuildSummary
) -> list[Candidate]:
    """``ceil(n / 2)`` value-guided answers, then naive ones; failed calls are skipped."""
    guided, prompt_file = guided_answers.guided_messages(prompt.text, guidance)
    naive = guided_answers.naive_messages(prompt.text)
    candidates = []
    for index in range(n):
        is_guided = index < math.ceil(n / 2)
        tag = CallTag(
            purpose=PURPOSE,
            prompt_name=guided_answers.PROMPT_NAME if is_guided else "naive",
            prompt_version=prompt_file.version if is_guided else "",
            model=model,
        )
        text, used = _answer(guided if is_guided else naive, tag, summary)
        if text:
            source = training.VALUE_GUIDED if is_guided else training.NAIVE
            candidates.append(Candidate(text, source, model=used))
    summary.candidates += len(candidates)
    return candidates


def _answer(messages: list[dict], tag: CallTag, summary: BuildSummary) -> tuple[str, str]:
    try:
        result = chat(messages, tag=tag)
    except (LLMNotConfigured, LLMBudgetExceeded):
        raise  # every later call would fail the same way
    except LLMError as exc:
        summary.failed_calls += 1
        logger.warning("Training answer failed (%s): %s", exc.code, exc)
        return "", ""
    return result.text.strip(), result.model


def _generator(n: int, model: str | None, min_margin: float) -> dict[str, Any]:
    from elicitation.llm.prompts import load_prompt

    from .prompting import PROMPTS_DIR

    prompt = load_prompt(guided_answers.PROMPT_NAME, PROMPTS_DIR)
    return {
        "model": model or settings.LLM_MODEL,
        "n": n,
        "value_guided_per_prompt": math.ceil(n / 2),
        "prompt_name": guided_answers.PROMPT_NAME,
        "prompt_version": prompt.version,
        "min_margin": min_margin,
    }


def _write(
    root: Path,
    out: Path,
    rows: dict[str, list[dict[str, Any]]],
    versions: Versions,
    generator: dict[str, Any],
    summary: BuildSummary,
) -> None:
    files = {training.FILES[key]: formats.jsonl_bytes(rows[key]) for key in training.FILES}
    counts = {
        "prompts": summary.prompts,
        "abstained": summary.abstained,
        "candidates": summary.candidates,
        "failed_calls": summary.failed_calls,
        "pairs": summary.pairs,
    }
    head = {**versions.as_dict(), "generator": generator, "counts": counts}
    files["manifest.json"] = formats.json_bytes(manifest.with_files(head, files))
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    if out.resolve() == (root / "training").resolve() and (root / "manifest.json").is_file():
        bundle_files.add_training(root, files, {**versions.as_dict(), "counts": counts})
