"""Simulated participants walk the real journey against the fake OpenAI server."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from elicitation.models import Context, Interview, LLMCall, Message, Participant, ValuesCard
from elicitation.personas import Persona
from elicitation.simulation import COMPLETED, FAILED, FALLBACK, NO_CARD, NONSENSE, simulate
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis
from moralgraph.reranker import embedding
from tests.fakes.openai_server import SAMPLE_CARD, Error, Reply, interviewer_responder

# Threads of the simulation use their own connections: they must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

VOTE = {"answer": "wiser", "reason": "B keeps what mattered and sees more of the person."}
ROOT = Path(__file__).resolve().parents[2]
DOOMED = "DOOMED"  # the interviewer fails whenever a participant message carries this mark


def pilot_responder(request: dict) -> Reply | Error:
    """Plays all three parts, told apart by what the system prompt fences as data."""
    messages = request.get("messages", [])
    system = messages[0]["content"] if messages else ""
    if "<transcript_text>" in system:
        return persona_reply(system)
    if "<story_text>" in system:
        return Reply(json.dumps(VOTE))
    if "<conversation_text>" in str(messages[-1].get("content")):
        return Reply(json.dumps(SAMPLE_CARD))  # the card written after "Make my card"
    if any(DOOMED in str(m.get("content")) for m in messages if m.get("role") == "user"):
        return Error(500)
    return interviewer_responder(request)


def persona_reply(system: str) -> Reply | Error:
    if "Silent Sue" in system:
        return Error(400)
    mark = f" {DOOMED}" if "Dana Doom" in system else ""
    return Reply(f"When my sister faced this hard decision I listened to her own reasons.{mark}")


def persona(name: str, **fields) -> Persona:
    defaults = {"outlook": "Believes people should be heard.", "age": 40, "politics": "Other"}
    return Persona(name=name, **{**defaults, **fields})


@pytest.fixture
def pilot_llm(fake_llm, llm_settings):
    fake_llm.responder = pilot_responder
    llm_settings.LLM_MAX_RETRIES = 0
    llm_settings.MGE_LLM_FAILURES_BEFORE_FALLBACK = 2
    return fake_llm


@pytest.fixture
def hypotheses(study) -> list[UpgradeHypothesis]:
    """Two upgrades among canonical values in the context of the interviewer's card."""
    context, _ = Context.objects.get_or_create(study=study, name=SAMPLE_CARD["context"])
    alpha, beta, gamma = (
        CanonicalValue.objects.create(
            study=study, title=title, description=f"About {title}.", policies=[f"MOMENTS {title}"]
        )
        for title in ("Alpha", "Beta", "Gamma")
    )
    return [
        UpgradeHypothesis.objects.create(
            study=study, context=context, from_value=a, to_value=b, story="I listened, then I saw."
        )
        for a, b in ((alpha, beta), (beta, gamma))
    ]


def parallel() -> int:
    """SQLite's in-memory test database locks whole tables across threads (no busy timeout):
    in-process runs go one at a time there. The file database of the default config is
    exercised in parallel by the command test that runs in a subprocess."""
    return 1 if connection.vendor == "sqlite" and connection.is_in_memory_db() else 3


def run(study, personas: list[Persona], **options):
    options = {"seed": 7, "max_turns": 6, "concurrency": parallel(), "dedupe": False, **options}
    return simulate(study=study, participants=len(personas), persona_list=personas, **options)


def test_simulated_participants_complete_the_real_journey(study, pilot_llm, hypotheses):
    people = [
        persona("Ruth", age=68, gender="Woman", politics="Republican", religion="Catholic"),
        persona("Marcus"),
        persona("Priya"),
    ]

    report = run(study, people)

    assert [r.status for r in report.results] == [COMPLETED] * 3
    assert [r.external_id for r in report.results] == [
        f"sim:{report.run_id}:{n}" for n in (1, 2, 3)
    ]
    sims = Participant.objects.filter(external_id__startswith=f"sim:{report.run_id}:")
    assert sims.count() == 3
    for participant in sims:
        assert participant.consented_at and participant.completed_at
        assert set(participant.feedback) >= {"represented", "process_fair", "graph_fair"}
        interview = participant.interviews.get()
        assert interview.status == Interview.Status.COMPLETED
        roles = list(interview.messages.values_list("role", flat=True))
        assert roles.count(Message.Role.USER) == 3 and Message.Role.ASSISTANT in roles
        card = ValuesCard.objects.get(interview=interview)
        assert card.status == ValuesCard.Status.CONFIRMED and card.title == SAMPLE_CARD["title"]
        answers = list(participant.votes.values_list("answer", flat=True))
        assert answers == ["wiser", "wiser"]
    ruth = sims.get(demographics__religion="Catholic")
    assert ruth.demographics == {
        "age_range": "65 or older",
        "gender": "Woman",
        "political_affiliation": "Republican",
        "religion": "Catholic",
    }
    purposes = set(LLMCall.objects.filter(study=study).values_list("purpose", flat=True))
    assert purposes == {"interview_turn", "simulated_participant", "simulated_vote"}
    assert report.cards == 3 and report.votes == 6
    assert {s.purpose: s.calls for s in report.spend} == {
        "interview_turn": 9,
        "simulated_participant": 9,
        "simulated_vote": 6,
    }


def test_the_persona_sees_the_transcript_fenced_and_its_calls_are_recorded(study, pilot_llm):
    run(study, [persona("Ruth")], max_turns=1)

    persona_requests = [
        r for r in pilot_llm.requests if "<transcript_text>" in r["messages"][0]["content"]
    ]
    system = persona_requests[0]["messages"][0]["content"]
    assert "Ruth, 40" in system and "Believes people should be heard." in system
    assert "<transcript_text>\nInterviewer: Hi! Thanks for taking part." in system
    call = LLMCall.objects.get(purpose="simulated_participant")
    assert call.prompt_name == "simulated_participant" and call.prompt_version.startswith("2-")
    assert call.interview_id == Interview.objects.get().pk and call.tokens_in > 0


def test_a_participant_whose_interviewer_fails_falls_back_and_the_others_finish(
    study, pilot_llm, hypotheses
):
    report = run(study, [persona("Ruth"), persona("Dana Doom"), persona("Marcus")])

    by_persona = {r.persona: r for r in report.results}
    assert by_persona["Dana Doom"].status == FALLBACK
    assert by_persona["Dana Doom"].detail == "interviewer llm_unavailable"
    assert by_persona["Ruth"].status == by_persona["Marcus"].status == COMPLETED
    doomed = Interview.objects.get(participant__external_id=by_persona["Dana Doom"].external_id)
    assert doomed.status == Interview.Status.GUIDED
    assert not ValuesCard.objects.filter(interview=doomed).exists()
    summary = report.summary()
    assert "Completed: 2 of 3. Cards confirmed: 2. Votes: 4. Fallbacks: 1." in summary
    assert "interview_turn: " in summary and "(2 failed)" in summary
    assert f"{by_persona['Dana Doom'].external_id} (Dana Doom): fallback" in summary


def test_a_participant_whose_persona_model_fails_is_reported_and_the_others_finish(
    study, pilot_llm
):
    report = run(study, [persona("Silent Sue"), persona("Ruth")])

    sue, ruth = sorted(report.results, key=lambda r: r.persona != "Silent Sue")
    assert sue.status == FAILED and sue.detail.startswith("llm_rejected: ")
    assert ruth.status == COMPLETED
    assert "Failed: 1." in report.summary()


def test_an_interview_without_a_card_stops_at_max_turns(study, pilot_llm):
    report = run(study, [persona("Ruth")], max_turns=2)

    (result,) = report.results
    assert (result.status, result.messages, result.card_id) == (NO_CARD, 2, None)
    assert Interview.objects.get().status == Interview.Status.ACTIVE
    assert Participant.objects.get().completed_at is None


def test_a_participant_without_a_card_at_max_turns_presses_make_my_card(
    study, pilot_llm, hypotheses
):
    study.card_button_after = 2
    study.save(update_fields=["card_button_after"])

    report = run(study, [persona("Ruth")], max_turns=2)

    [result] = report.results
    assert (result.status, result.messages, result.made_card) == (COMPLETED, 2, True)
    assert LLMCall.objects.filter(purpose="card_articulation").count() == 1
    assert '1 of 1 written after "Make my card"' in report.summary()


def test_a_nonsense_card_is_not_confirmed(study, pilot_llm, monkeypatch):
    monkeypatch.setattr(
        "tests.integration.test_simulate.persona_reply",
        lambda system: Reply("I like gardening and long walks."),
    )

    report = run(study, [persona("Ruth")], max_turns=3)

    [result] = report.results
    assert result.status == NONSENSE and result.card_id is None
    assert "shares no words" in result.detail
    assert not ValuesCard.objects.filter(status=ValuesCard.Status.CONFIRMED).exists()


def test_an_invalid_vote_answer_is_asked_again_once_then_counts_as_unsure(
    study, pilot_llm, hypotheses
):
    def responder(request: dict):
        if "<story_text>" in request["messages"][0]["content"]:
            return Reply('{"answer": "maybe", "reason": "hm"}')
        return pilot_responder(request)

    pilot_llm.responder = responder

    report = run(study, [persona("Ruth")])

    assert report.results[0].status == COMPLETED
    participant = Participant.objects.get()
    assert list(participant.votes.values_list("answer", "reason")) == [("unsure", "")] * 2
    assert LLMCall.objects.filter(purpose="simulated_vote").count() == 4
    retry = [r for r in pilot_llm.requests if "<story_text>" in r["messages"][0]["content"]][1]
    assert '"answer" must be one of' in retry["messages"][-1]["content"]


def test_confirmed_cards_are_deduplicated_unless_turned_off(study, pilot_llm, monkeypatch):
    slots: dict[str, int] = {}

    def encoder(texts, **options):
        vectors = np.zeros((len(texts), embedding.DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row, slots.setdefault(text.split("\n")[0], len(slots))] = 1.0
        return vectors

    monkeypatch.setattr(embedding, "embed_texts", encoder)

    run(study, [persona("Ruth"), persona("Marcus")], concurrency=1, dedupe=True)
    run(study, [persona("Priya")], dedupe=False)

    links = CardLink.objects.select_related("card__participant", "value")
    assert links.count() == 2
    assert {link.value.title for link in links} == {SAMPLE_CARD["title"]}
    assert ValuesCard.objects.filter(status="confirmed").count() == 3


def test_the_command_runs_the_pilot_and_prints_a_summary(study, pilot_llm, tmp_path):
    people = tmp_path / "people.jsonl"
    people.write_text(
        "\n".join(json.dumps({"name": n, "outlook": "Curious."}) for n in ("Ann", "Bob"))
    )
    out = StringIO()

    call_command(
        "simulate",
        *("--study", study.slug, "--participants", "2", "--personas", str(people)),
        *("--seed", "3", "--max-turns", "5", "--concurrency", str(parallel()), "--no-dedupe"),
        stdout=out,
    )

    text = out.getvalue()
    assert text.count(": completed, 3 messages, card ") == 2
    assert f"Simulated 2 participants on study '{study.slug}'" in text
    assert "Completed: 2 of 3" not in text and "Completed: 2 of 2." in text
    assert "LLM calls: 12 calls, tokens " in text
    assert "simulated_participant: 6 calls" in text


def test_the_command_refuses_an_unknown_study_and_a_bad_persona_file(study, tmp_path):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("simulate", "--study", "nope", "--participants", "1")
    broken = tmp_path / "broken.json"
    broken.write_text('[{"name": "Ann"}]')
    with pytest.raises(CommandError, match="needs a non-empty string 'outlook'"):
        call_command(
            "simulate", "--study", study.slug, "--participants", "1", "--personas", str(broken)
        )


def test_the_default_sqlite_file_database_takes_parallel_participants(fake_llm, tmp_path):
    """The command in its own process, as an organizer runs it: a SQLite file in WAL mode with
    a busy timeout, four participants at a time."""
    fake_llm.responder = pilot_responder
    fake_llm.token_delay = 0.002  # streams overlap, and so do their writes
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'pilot.sqlite3'}",
        "LLM_BASE_URL": fake_llm.base_url,
        "LLM_API_KEY": "sk-test",
        "LLM_MODEL": "fake-model",
    }

    script = (
        "from django.core.management import call_command as run; "
        "run('migrate', verbosity=0); "
        "run('seed_demo', password='a-long-organizer-password'); "
        "run('simulate', study='demo', participants=8, concurrency=4, seed=11, no_dedupe=True)"
    )

    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Completed: 8 of 8. Cards confirmed: 8." in out, out
    assert "Failed: 0." in out
