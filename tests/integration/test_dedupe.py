"""Deduplicating confirmed cards into canonical values, against the fake LLM over real HTTP.

Most tests place card vectors by hand (FakeEncoder) so each similarity is exact; the last ones
use the real all-MiniLM-L6-v2 model.
"""

import json
import math

import numpy as np
import pytest
from celery.exceptions import Retry

from elicitation import services as elicitation_services
from elicitation.llm.errors import LLMUnavailable
from elicitation.models import Context, LLMCall, ValuesCard
from moralgraph import services
from moralgraph.models import CanonicalValue, CardLink
from moralgraph.reranker import embedding
from moralgraph.tasks import dedupe_card, dedupe_pending
from tests.fakes.openai_server import Error, Reply

pytestmark = pytest.mark.django_db


class FakeEncoder:
    """Embeds a card by its title, to a vector placed at a chosen similarity to another."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}
        self.calls: list[list[str]] = []

    def place(self, title: str, near: str | None = None, similarity: float = 0.0) -> None:
        own = np.zeros(embedding.DIMENSION, dtype=np.float32)
        own[len(self.vectors)] = 1.0
        if near is not None:
            own = similarity * self.vectors[near] + math.sqrt(1 - similarity**2) * own
        self.vectors[title] = own.astype(np.float32)

    def __call__(self, texts, **options) -> np.ndarray:
        self.calls.append(list(texts))
        if not texts:
            return np.zeros((0, embedding.DIMENSION), dtype=np.float32)
        return np.stack([self.vectors[text.split("\n")[0]] for text in texts])


@pytest.fixture
def encoder(monkeypatch) -> FakeEncoder:
    fake = FakeEncoder()
    monkeypatch.setattr(embedding, "embed_texts", fake)
    return fake


@pytest.fixture
def thresholds(settings):
    settings.MGE_DEDUPE_CANDIDATE_THRESHOLD = 0.6
    settings.MGE_DEDUPE_SAME_THRESHOLD = 0.95
    return settings


@pytest.fixture
def no_llm(settings, thresholds):
    settings.LLM_BASE_URL = ""
    settings.LLM_API_KEY = ""
    return settings


def card(study, title: str, *, confirmed: bool = True, context: Context | None = None):
    return ValuesCard.objects.create(
        study=study,
        title=title,
        description=f"What {title} is about.",
        policies=[f"MOMENTS of {title.lower()}", f"FEELINGS about {title.lower()}"],
        context=context,
        status=ValuesCard.Status.CONFIRMED if confirmed else ValuesCard.Status.DRAFT,
    )


def value(study, title: str) -> CanonicalValue:
    """A value with no vector yet, as an import leaves it: dedupe embeds it on first use."""
    return CanonicalValue.objects.create(
        study=study, title=title, description=f"What {title} is about.", policies=["MOMENTS a"]
    )


def judge_says(fake_llm, value_id: int | None) -> None:
    fake_llm.script(Reply(json.dumps({"match": value_id, "reason": "Same attention."})))


# --- the decision ---


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_a_near_identical_card_joins_the_value_without_asking_the_judge(study, encoder, fake_llm):
    encoder.place("Honest Care")
    encoder.place("Honest care", near="Honest Care", similarity=0.97)
    existing = value(study, "Honest Care")

    link = services.card_dedupe(card=card(study, "Honest care"))

    assert (link.value, link.method) == (existing, CardLink.Method.EMBEDDING)
    assert link.similarity == pytest.approx(0.97, abs=1e-5)
    assert fake_llm.requests == []


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_only_candidates_between_the_thresholds_are_shown_to_the_judge(study, encoder, fake_llm):
    encoder.place("New Card")
    for title, similarity in [("Close One", 0.8), ("Fair One", 0.7), ("Far One", 0.3)]:
        encoder.place(title, near="New Card", similarity=similarity)
    close, fair, _ = value(study, "Close One"), value(study, "Fair One"), value(study, "Far One")
    judge_says(fake_llm, fair.pk)

    link = services.card_dedupe(card=card(study, "New Card"))

    [request] = fake_llm.requests
    shown = request["messages"][1]["content"]
    assert f"Candidate {close.pk}:" in shown and "Title: Close One" in shown
    assert f"Candidate {fair.pk}:" in shown and "Title: Fair One" in shown
    assert "Far One" not in shown
    assert request["response_format"] == {"type": "json_object"}
    assert (link.value, link.method) == (fair, CardLink.Method.LLM_JUDGE)
    assert link.similarity == pytest.approx(0.7, abs=1e-5)
    call = LLMCall.objects.get()
    assert (call.purpose, call.prompt_name, call.study) == ("dedupe", "dedupe_judge", study)


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_a_judge_that_finds_no_match_makes_a_new_value_from_the_card(study, encoder, fake_llm):
    encoder.place("New Card")
    encoder.place("Close One", near="New Card", similarity=0.8)
    value(study, "Close One")
    judge_says(fake_llm, None)
    new_card = card(study, "New Card")

    link = services.card_dedupe(card=new_card)

    assert link.method == CardLink.Method.NEW and link.similarity is None
    created = link.value
    assert (created.title, created.description, created.policies) == (
        new_card.title,
        new_card.description,
        new_card.policies,
    )
    assert created.embedding_model == embedding.MODEL_NAME
    assert np.array_equal(embedding.from_bytes(created.embedding), encoder.vectors["New Card"])


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_invalid_judge_output_is_retried_once_then_the_card_becomes_a_new_value(
    study, encoder, fake_llm
):
    encoder.place("New Card")
    encoder.place("Close One", near="New Card", similarity=0.8)
    close = value(study, "Close One")
    fake_llm.script(Reply("They look the same to me."), Reply('{"match": 99999}'))

    link = services.card_dedupe(card=card(study, "New Card"))

    first, second = fake_llm.requests
    correction = second["messages"][-1]["content"]
    assert "The answer was not valid JSON" in correction
    assert second["messages"][-2] == {"role": "assistant", "content": "They look the same to me."}
    assert link.method == CardLink.Method.NEW and link.value != close
    assert LLMCall.objects.filter(purpose="dedupe").count() == 2


@pytest.mark.usefixtures("no_llm")
def test_without_an_llm_only_near_identical_cards_are_linked(study, encoder, fake_llm):
    encoder.place("Honest Care")
    encoder.place("Honest care", near="Honest Care", similarity=0.96)
    encoder.place("Kind Truth", near="Honest Care", similarity=0.9)
    existing = value(study, "Honest Care")

    twin = services.card_dedupe(card=card(study, "Honest care"))
    cousin = services.card_dedupe(card=card(study, "Kind Truth"))

    assert (twin.value, twin.method) == (existing, CardLink.Method.EMBEDDING)
    assert cousin.method == CardLink.Method.NEW and cousin.value != existing
    assert fake_llm.requests == [] and not LLMCall.objects.exists()


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_a_model_that_stays_down_is_raised_for_the_task_to_retry(study, encoder, fake_llm):
    encoder.place("New Card")
    encoder.place("Close One", near="New Card", similarity=0.8)
    value(study, "Close One")
    fake_llm.script(Error(503), Error(503), Error(503))
    new_card = card(study, "New Card")

    with pytest.raises(LLMUnavailable):
        services.card_dedupe(card=new_card)

    assert not CardLink.objects.filter(card=new_card).exists()


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_a_study_over_its_token_budget_still_gets_its_cards_deduplicated(study, encoder, fake_llm):
    study.token_budget = 0
    study.save()
    encoder.place("New Card")
    encoder.place("Close One", near="New Card", similarity=0.8)
    value(study, "Close One")

    link = services.card_dedupe(card=card(study, "New Card"))

    assert link.method == CardLink.Method.NEW and fake_llm.requests == []


@pytest.mark.usefixtures("no_llm")
def test_deduplicating_twice_leaves_the_first_link_alone(study, encoder):
    encoder.place("Honest Care")
    the_card = card(study, "Honest Care")

    first = services.card_dedupe(card=the_card)
    again = services.card_dedupe(card=the_card)

    assert again == first and CanonicalValue.objects.count() == 1
    assert len(encoder.calls) == 1


@pytest.mark.usefixtures("no_llm")
def test_a_draft_card_is_not_deduplicated(study, encoder):
    assert services.card_dedupe(card=card(study, "Draft", confirmed=False)) is None
    assert not CanonicalValue.objects.exists()


@pytest.mark.usefixtures("no_llm")
def test_values_merged_into_another_are_not_candidates(study, encoder):
    encoder.place("Honest Care")
    encoder.place("Honest care", near="Honest Care", similarity=0.99)
    old, survivor = value(study, "Honest Care"), value(study, "Survivor")
    encoder.place("Survivor")
    services.canonical_values_embed_missing(study=study)
    CanonicalValue.objects.filter(pk=old.pk).update(merged_into=survivor)

    link = services.card_dedupe(card=card(study, "Honest care"))

    assert link.method == CardLink.Method.NEW
    assert link.value not in (old, survivor)


@pytest.mark.usefixtures("no_llm")
def test_values_from_other_studies_are_never_candidates(study, encoder):
    other = type(study).objects.create(slug="other", title="Other")
    encoder.place("Honest Care")
    encoder.place("Honest care", near="Honest Care", similarity=0.99)
    value(other, "Honest Care")

    link = services.card_dedupe(card=card(study, "Honest care"))

    assert link.method == CardLink.Method.NEW and link.value.study == study


# --- tasks and the trigger ---


@pytest.mark.usefixtures("no_llm")
def test_confirming_a_card_deduplicates_it_once_after_commit(
    study, encoder, participant, question, django_capture_on_commit_callbacks, monkeypatch
):
    encoder.place("Grounded Personal Discernment")
    interview = elicitation_services.interview_start(participant=participant, question=question)
    draft = elicitation_services.card_draft_save(
        interview=interview,
        title="Grounded Personal Discernment",
        description="Staying close to what they feel.",
        policies=["FEELINGS of unease", "MOMENTS of clarity", "OPPORTUNITIES to reflect"],
        context="When the user is facing a hard personal decision",
    )
    runs = []
    monkeypatch.setattr(services, "card_dedupe", counting(services.card_dedupe, runs))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        elicitation_services.card_confirm(card=draft)
    with django_capture_on_commit_callbacks(execute=True) as again:
        elicitation_services.card_confirm(card=draft)

    assert (len(callbacks), len(again), len(runs)) == (1, 0, 1)
    link = CardLink.objects.get(card=draft)
    assert link.value.title == "Grounded Personal Discernment"


@pytest.mark.usefixtures("no_llm")
def test_confirming_stands_when_deduplication_fails_or_is_switched_off(
    settings, study, participant, question, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(texts, **options):
        raise embedding.EncoderUnavailable("Embeddings need the `ml` extra")

    monkeypatch.setattr(embedding, "embed_texts", broken)
    first, second = (card(study, title, confirmed=False) for title in ("One", "Two"))

    with django_capture_on_commit_callbacks(execute=True):
        elicitation_services.card_confirm(card=first)
    settings.MGE_DEDUPE_ON_CONFIRM = False
    monkeypatch.setattr(embedding, "embed_texts", None)  # must not be reached
    with django_capture_on_commit_callbacks(execute=True):
        elicitation_services.card_confirm(card=second)

    statuses = ValuesCard.objects.order_by("id").values_list("status", flat=True)
    assert list(statuses) == ["confirmed", "confirmed"]
    assert not CardLink.objects.exists()


def counting(function, runs: list):
    def counted(**kwargs):
        runs.append(kwargs)
        return function(**kwargs)

    return counted


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_the_task_asks_celery_to_retry_while_the_model_is_down(study, encoder, fake_llm):
    encoder.place("New Card")
    encoder.place("Close One", near="New Card", similarity=0.8)
    close = value(study, "Close One")
    new_card = card(study, "New Card")
    fake_llm.script(Error(503), Error(503), Error(503))  # one whole call: the client's retries
    judge_says(fake_llm, close.pk)

    with pytest.raises(Retry):  # eager Celery raises what a worker would schedule
        dedupe_card.delay(new_card.pk)
    assert not CardLink.objects.filter(card=new_card).exists()
    assert dedupe_card.delay(new_card.pk).get() == close.pk

    assert CardLink.objects.get(card=new_card).method == CardLink.Method.LLM_JUDGE
    assert dedupe_card.max_retries and dedupe_card.retry_jitter


@pytest.mark.usefixtures("no_llm")
def test_the_task_ignores_a_card_that_no_longer_exists(encoder):
    assert dedupe_card.delay(987654).get() is None


@pytest.mark.usefixtures("no_llm")
def test_pending_cards_of_a_study_are_deduplicated_in_one_job(study, encoder):
    for title in ("One", "Two"):
        encoder.place(title)
        card(study, title)
    card(study, "Draft", confirmed=False)

    assert dedupe_pending.delay(study.pk).get() == 2
    assert dedupe_pending.delay(study.pk).get() == 0


# --- the real model ---


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_a_near_duplicate_card_joins_the_existing_value_with_the_real_model(study, fake_llm):
    first = real_card(study, "Grounded Personal Discernment", "Helping someone find")
    second = real_card(study, "Grounded personal discernment", "Helping a person find")

    one, two = services.card_dedupe(card=first), services.card_dedupe(card=second)

    assert one.method == CardLink.Method.NEW
    assert (two.value, two.method) == (one.value, CardLink.Method.EMBEDDING)
    assert two.similarity > 0.95 and fake_llm.requests == []


@pytest.mark.usefixtures("llm_settings", "thresholds")
def test_a_paraphrase_goes_to_the_judge_and_an_unrelated_value_does_not(settings, study, fake_llm):
    settings.MGE_DEDUPE_CANDIDATE_THRESHOLD = 0.5
    original = services.card_dedupe(card=real_card(study, "Grounded Personal Discernment"))
    unrelated = services.card_dedupe(card=real_card(study, "Faithful Obedience", faith=True))
    judge_says(fake_llm, original.value_id)

    link = services.card_dedupe(card=real_card(study, "Inner Clarity", paraphrase=True))

    [request] = fake_llm.requests
    assert f"Candidate {original.value_id}:" in request["messages"][1]["content"]
    assert f"Candidate {unrelated.value_id}:" not in request["messages"][1]["content"]
    assert (link.value_id, link.method) == (original.value_id, CardLink.Method.LLM_JUDGE)
    assert 0.5 < link.similarity < 0.95


def real_card(
    study, title, opening="Helping someone find their own", *, paraphrase=False, faith=False
):
    if faith:
        description = "Following the teachings of scripture and the guidance of church leaders."
        policies = ["COMMANDMENTS that apply", "TEACHINGS of elders on family", "PRAYERS for help"]
    elif paraphrase:
        description = "Supporting someone to listen to their own feelings and reasons first."
        policies = [
            "SIGNS of discomfort the person has not put into words",
            "CHANCES for the person to say their reasons aloud and hear them",
            "TIMES the person describes the decision in their own language",
        ]
    else:
        description = f"{opening} their own footing by staying close to what they feel."
        policies = [
            "FEELINGS of unease that point to something the person has not yet said",
            "MOMENTS when the person speaks about their choice in their own words",
            "OPPORTUNITIES for the person to hear their own reasons out loud",
        ]
    return ValuesCard.objects.create(
        study=study,
        title=title,
        description=description,
        policies=policies,
        status=ValuesCard.Status.CONFIRMED,
    )
