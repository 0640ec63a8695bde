"""A fresh study from interviews to a voted graph, against any OpenAI-compatible endpoint.

N simulated participants go through the real services (interview turns, card confirmation,
wisdom votes) on a new study in a temporary SQLite database; the study's own cadence
(deduplication, context matching, hypotheses, graph builds) does the rest, run inline, and one
periodic check after the last participant picks up the last votes. Without ``--base-url`` the
script starts the fake server's scripted study (tests/fakes/study_script.py) itself.

Printed: the share of interviews ending in a confirmed card (and without the guided form),
participant turns and interviewer tokens per card, seconds per interviewer turn, canonical
contexts per question against the raw context texts the interviewer wrote, hypotheses, votes
and kept edges. The last line ends with ``ratio=`` raw context texts per canonical context.

    PYTHONPATH=$PWD .venv/bin/python bench/pipeline.py [--participants 10] [--questions 1]
    PYTHONPATH=$PWD .venv/bin/python bench/pipeline.py --base-url http://127.0.0.1:8090/v1 \\
        --model qwen2.5-coder-1.5b --participants 2 --concurrency 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    ("abortion", "I am a Christian girl and I'm considering an abortion, what should I do?"),
    ("parenting", "My 10-year-old refuses to do homework and yells at me. What should I do?"),
    ("vaccines", "Should I vaccinate my kids even though my family says it is dangerous?"),
]


def main() -> None:
    args = parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mge-pipeline-")))
        base_url = args.base_url or start_fake(stack)
        configure(folder / "bench.sqlite3", base_url, args.model, args.api_key, args.timeout)
        figures = run(args)
    for line in report(figures):
        print(line, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--questions", type=int, default=1, choices=range(1, len(QUESTIONS) + 1))
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint; default: the fake server")
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--api-key", default="sk-bench")
    parser.add_argument("--timeout", type=float, default=60.0, help="LLM_TIMEOUT_SECONDS")
    parser.add_argument("--max-turns", type=int, default=8, help="participant messages at most")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--card-button-after",
        type=int,
        help="the study's 'Make my card' setting (participant messages); default: the study's",
    )
    parser.add_argument(
        "--check-llm",
        action="store_true",
        help="probe the endpoint first (as `manage.py llm_check` does) and store what works",
    )
    return parser.parse_args()


def start_fake(stack: ExitStack) -> str:
    from tests.fakes.openai_server import FakeOpenAIServer
    from tests.fakes.study_script import StudyScript

    return stack.enter_context(FakeOpenAIServer(responder=StudyScript())).base_url


def configure(database: Path, base_url: str, model: str, api_key: str, timeout: float) -> None:
    """Django on a fresh SQLite file, pointed at the endpoint; jobs run inline, no broker."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{database}",
        LLM_BASE_URL=base_url,
        LLM_MODEL=model,
        LLM_API_KEY=api_key,
        LLM_TIMEOUT_SECONDS=str(timeout),
        DEBUG="false",
    )
    os.environ.pop("REDIS_URL", None)
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.MGE_JOBS_INLINE = True
    call_command("migrate", verbosity=0)


def run(args: argparse.Namespace) -> dict:
    """Create and open the study, run the participants, then one periodic check."""
    from django.utils import timezone

    from dashboard import cadence
    from dashboard.studies import QuestionDraft, study_create, study_state_change
    from elicitation.capabilities import endpoint_check
    from elicitation.models import Study
    from elicitation.simulation import simulate

    if args.check_llm:
        print("\n".join(endpoint_check().lines()), flush=True)
    drafts = [QuestionDraft(title, text) for title, text in QUESTIONS[: args.questions]]
    fields = {"title": "Pipeline bench"}
    if args.card_button_after:
        fields["card_button_after"] = args.card_button_after
    study = study_create(slug="bench", fields=fields, questions=drafts)
    study_state_change(study=study, state=Study.State.OPEN)
    clock = time.monotonic()
    report = simulate(
        study=study,
        participants=args.participants,
        seed=args.seed,
        concurrency=args.concurrency,
        max_turns=args.max_turns,
    )
    later = timezone.now() + timedelta(minutes=(study.refresh_every_minutes or 0) + 1)
    cadence.study_refresh_if_due(study=Study.objects.get(pk=study.pk), now=later)
    wall = time.monotonic() - clock
    return {**figures(study), "wall_s": wall, "summary": report.summary()}


def figures(study) -> dict:
    from elicitation.models import Interview, LLMCall, Message, ValuesCard, WisdomVote
    from moralgraph import selectors
    from moralgraph.models import UpgradeHypothesis

    interviews = Interview.objects.filter(question__study=study)
    cards = ValuesCard.objects.filter(study=study, status=ValuesCard.Status.CONFIRMED)
    turns = [
        Message.objects.filter(interview=interview, role=Message.Role.USER).count()
        for interview in interviews.filter(card__status=ValuesCard.Status.CONFIRMED)
    ]
    calls = LLMCall.objects.filter(study=study, purpose="interview_turn", error="")
    latencies = [ms / 1000 for ms in calls.values_list("latency_ms", flat=True)]
    tokens = sum(a + b for a, b in calls.values_list("tokens_in", "tokens_out"))
    build = selectors.latest_graph_build(study)
    sections = build.summary["contexts"].values() if build else []
    return {
        "interviews": interviews.count(),
        "cards": cards.count(),
        "cards_interview": cards.filter(source=ValuesCard.Source.INTERVIEW).count(),
        "turns": turns,
        "turn_seconds": latencies,
        "interviewer_tokens": tokens,
        "per_question": contexts_per_question(study),
        "raw_contexts": len(raw_context_texts(study)),
        "canonical_contexts": selectors.canonical_contexts(study.pk).count(),
        "values": selectors.live_values(study).count(),
        "hypotheses": UpgradeHypothesis.objects.filter(study=study, is_active=True).count(),
        "votes": WisdomVote.objects.filter(hypothesis__study=study).count(),
        "kept_edges": sum(entry["kept_edges"] for entry in sections),
    }


def contexts_per_question(study) -> dict[str, int]:
    """Canonical contexts holding at least one card, per question."""
    from moralgraph import selectors

    canonical = selectors.canonical_contexts(study.pk)
    return {
        question.title: canonical.filter(cards__question=question).distinct().count()
        for question in study.questions.order_by("order", "id")
    }


def raw_context_texts(study) -> set[str]:
    """Every distinct context the interviewer wrote: as written in a card tool call, and each
    new wording a card brought (a card written after "Make my card" leaves no tool call; one
    that copied a listed context is not counted)."""
    from elicitation.models import Context, Message

    written = Context.objects.filter(study=study, source=Context.Source.INTERVIEW)
    texts = set(written.values_list("name", flat=True))
    calls = Message.objects.filter(interview__question__study=study).exclude(tool_calls=[])
    for tool_calls in calls.values_list("tool_calls", flat=True):
        for call in tool_calls:
            try:
                texts.add(json.loads(call["function"]["arguments"])["context"].strip())
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
    return texts


def report(f: dict) -> list[str]:
    cards, interviews = f["cards"], f["interviews"]
    per_card = lambda total: total / cards if cards else float("nan")  # noqa: E731
    mean = lambda xs: statistics.fmean(xs) if xs else float("nan")  # noqa: E731
    ratio = f["raw_contexts"] / f["canonical_contexts"] if f["canonical_contexts"] else 0.0
    per_question = ", ".join(f"{title}: {n}" for title, n in f["per_question"].items())
    return [
        f["summary"],
        f"confirmed cards: {cards} of {interviews} interviews "
        f"({cards / interviews if interviews else 0:.0%}); "
        f"{f['cards_interview']} from the chat, {cards - f['cards_interview']} from the form",
        f"participant turns per card: {mean(f['turns']):.1f}; "
        f"interviewer tokens per card: {per_card(f['interviewer_tokens']):.0f}",
        f"seconds per interviewer turn: mean {mean(f['turn_seconds']):.2f}, "
        f"max {max(f['turn_seconds'], default=float('nan')):.2f}",
        f"canonical contexts with cards per question: {per_question}; "
        f"raw context texts {f['raw_contexts']}, canonical contexts {f['canonical_contexts']}",
        f"canonical values {f['values']}, hypotheses {f['hypotheses']}, "
        f"votes {f['votes']}, kept edges {f['kept_edges']}",
        f"pipeline: participants={interviews} cards={cards} votes={f['votes']} "
        f"kept_edges={f['kept_edges']} wall_s={f['wall_s']:.1f} "
        f"raw_contexts={f['raw_contexts']} canonical_contexts={f['canonical_contexts']} "
        f"ratio={ratio:.2f}x",
    ]


if __name__ == "__main__":
    main()
