"""Canonical contexts: seeding, proposing, matching new wordings, and organizer merges.

Context vectors are placed by hand (PhraseEncoder) so each similarity is exact; the judge and
the proposals come from the fake LLM over real HTTP.
"""

import asyncio
import json
import math

import numpy as np
import pytest

from elicitation import services as elicitation_services
from elicitation.interviewer import interviewer_turn
from elicitation.models import Context, Impression, LLMCall, Question, ValuesCard, WisdomVote
from moralgraph import context_services, selectors
from moralgraph.models import CanonicalValue, UpgradeHypothesis
from moralgraph.reranker import embedding
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db


class PhraseEncoder:
    """Embeds a phrase to a vector placed at a chosen similarity to another phrase."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    def place(self, phrase: str, near: str | None = None, similarity: float = 0.0) -> None:
        own = np.zeros(embedding.DIMENSION, dtype=np.float32)
        own[len(self.vectors)] = 1.0
        if near is not None:
            own = similarity * self.vectors[near] + math.sqrt(1 - similarity**2) * own
        self.vectors[phrase] = own.astype(np.float32)

    def __call__(self, texts, **options) -> np.ndarray:
        return np.stack([self.vectors[text] for text in texts])


@pytest.fixture
def encoder(monkeypatch, settings) -> PhraseEncoder:
    settings.MGE_CONTEXT_CANDIDATE_THRESHOLD = 0.45
    settings.MGE_CONTEXT_SAME_THRESHOLD = 0.85
    fake = PhraseEncoder()
    monkeypatch.setattr(embedding, "embed_texts", fake)
    return fake


@pytest.fixture
def no_llm(settings):
    settings.LLM_BASE_URL = ""
    settings.LLM_API_KEY = ""
    return settings


@pytest.fixture
def distress(question) -> Context:
    return context_services.contexts_seed(question=question, names=["When in distress"])[0]


def draft(participant, question, context_name: str) -> ValuesCard:
    interview = elicitation_services.interview_start(participant=participant, question=question)
    return elicitation_services.card_draft_save(
        interview=interview,
        title="Staying With Fear",
        description="Noticing fear before giving advice.",
        policies=["FEELINGS of fear", "MOMENTS of silence", "SIGNS of relief"],
        context=context_name,
    )


def test_a_card_naming_a_listed_context_in_other_case_and_spacing_joins_it(
    participant, question, distress
):
    card = draft(participant, question, "  when IN distress. ")

    assert card.context == distress
    assert Context.objects.filter(study=question.study).count() == 1


def test_a_paraphrased_context_is_merged_into_the_near_identical_canonical_one(
    encoder, no_llm, participant, question, distress
):
    encoder.place("When in distress")
    encoder.place("When the user is in distress", near="When in distress", similarity=0.9)
    card = draft(participant, question, "When the user is in distress")
    assert card.context.pending  # exact-text matching ends here, with a context of its own

    merged = context_services.contexts_match_pending(study=question.study)

    card.refresh_from_db()
    assert merged == 1
    assert card.context == distress
    assert selectors.canonical_contexts(question.study_id).get() == distress
    wording = Context.objects.get(name="When the user is in distress")
    assert wording.merged_into == distress and not wording.pending


def test_the_judge_decides_in_the_uncertain_band(
    encoder, llm_settings, fake_llm, participant, question, distress
):
    encoder.place("When in distress")
    encoder.place("When the user feels overwhelmed", near="When in distress", similarity=0.6)
    fake_llm.script(Reply(json.dumps({"match": distress.pk, "reason": "Both are overwhelm."})))
    card = draft(participant, question, "When the user feels overwhelmed")

    context_services.contexts_match_pending(study=question.study)

    card.refresh_from_db()
    assert card.context == distress
    judged = fake_llm.requests[0]["messages"][1]["content"]
    assert f"Candidate {distress.pk}:\n<context_text>\nWhen in distress\n" in judged
    assert LLMCall.objects.get().purpose == "context_judge"


def test_without_a_judge_an_uncertain_wording_becomes_a_context_of_its_own(
    encoder, no_llm, participant, question, distress
):
    encoder.place("When in distress")
    encoder.place("When the user feels overwhelmed", near="When in distress", similarity=0.6)
    card = draft(participant, question, "When the user feels overwhelmed")

    context_services.contexts_match_pending(study=question.study)

    card.refresh_from_db()
    assert card.context.name == "When the user feels overwhelmed"
    assert not card.context.pending and card.context.merged_into is None


def test_a_wording_is_matched_only_against_its_own_question_contexts(
    encoder, no_llm, participant, question, distress
):
    other = Question.objects.create(study=question.study, title="other", text="Another one?")
    context_services.contexts_seed(question=other, names=["When seeking clarity"])
    encoder.place("When in distress")
    encoder.place("When seeking clarity")
    encoder.place("When seeking some clarity", near="When seeking clarity", similarity=0.95)
    card = draft(participant, question, "When seeking some clarity")

    context_services.contexts_match_pending(study=question.study)

    card.refresh_from_db()
    assert card.context.name == "When seeking some clarity"


def test_seeding_reuses_names_the_study_has_and_refuses_ones_that_are_not_contexts(question):
    first = context_services.contexts_seed(question=question, names=["When in distress", ""])
    again = context_services.contexts_seed(
        question=question, names=["when in  distress", "When parenting"]
    )

    assert again[0] == first[0]
    assert [c.name for c in again] == ["When in distress", "When parenting"]
    with pytest.raises(ValueError, match="'Parenting' must start with 'When'"):
        context_services.contexts_seed(question=question, names=["When x y", "Parenting"])
    assert not Context.objects.filter(name="When x y").exists()


def test_the_model_proposes_a_question_contexts_and_they_are_canonical(
    llm_settings, fake_llm, question
):
    fake_llm.script(Reply('{"contexts": ["When in distress", "when seeking clarity."]}'))

    made = context_services.study_contexts_propose(study=question.study)

    assert made == 2
    names = selectors.canonical_contexts(question.study_id).values_list("name", "source")
    assert sorted(names) == [("When in distress", "proposed"), ("When seeking clarity", "proposed")]
    assert "<question_text>" in fake_llm.requests[0]["messages"][1]["content"]


def value_card(study, context, title: str) -> CanonicalValue:
    card = ValuesCard.objects.create(
        study=study, title=title, description="d", policies=["MOMENTS of x"], context=context,
        status=ValuesCard.Status.CONFIRMED,
    )  # fmt: skip
    value = CanonicalValue.objects.create(study=study, title=title, description="d")
    value.card_links.create(card=card, method="new")
    return value


def test_merging_contexts_moves_cards_hypotheses_and_votes(study, participant, other_participant):
    keep = Context.objects.create(study=study, name="When in distress")
    away = Context.objects.create(study=study, name="When overwhelmed")
    a, b, c = (value_card(study, away, title) for title in "ABC")
    value_card(study, keep, "D")
    kept_ab = UpgradeHypothesis.objects.create(study=study, context=keep, from_value=a, to_value=b)
    twin_ab = UpgradeHypothesis.objects.create(study=study, context=away, from_value=a, to_value=b)
    moved_bc = UpgradeHypothesis.objects.create(study=study, context=away, from_value=b, to_value=c)
    for voter, hypothesis in [(participant, twin_ab), (other_participant, twin_ab),
                              (other_participant, kept_ab), (participant, moved_bc)]:  # fmt: skip
        Impression.objects.create(participant=voter, hypothesis=hypothesis)
        WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer="wiser")

    context_services.contexts_merge(target=keep, sources=[away])

    assert set(ValuesCard.objects.values_list("context__name", flat=True)) == {"When in distress"}
    moved_bc.refresh_from_db()
    assert moved_bc.context == keep
    assert set(kept_ab.votes.values_list("participant", flat=True)) == {
        participant.pk, other_participant.pk,
    }  # fmt: skip
    twin_ab.refresh_from_db()  # the other voter's second vote stays, on an inactive hypothesis
    assert not twin_ab.is_active and twin_ab.votes.get().participant == other_participant
    assert WisdomVote.objects.count() == 4
    away.refresh_from_db()
    assert away.merged_into == keep
    assert selectors.contexts_with_cards(study.pk) == [keep.pk]


def test_hypotheses_wait_until_a_merge_brings_new_values_into_a_context(study):
    keep = Context.objects.create(study=study, name="When in distress")
    away = Context.objects.create(study=study, name="When overwhelmed")
    a, b = value_card(study, keep, "A"), value_card(study, keep, "B")
    UpgradeHypothesis.objects.create(study=study, context=keep, from_value=a, to_value=b)
    value_card(study, away, "C")
    assert selectors.contexts_needing_hypotheses(study) == []

    context_services.contexts_merge(target=keep, sources=[away])

    assert selectors.contexts_needing_hypotheses(study) == [keep]


def test_pending_contexts_get_no_hypotheses_until_matched(study):
    pending = Context.objects.create(study=study, name="When the user is lost", pending=True)
    value_card(study, pending, "A"), value_card(study, pending, "B")

    assert selectors.contexts_with_cards(study.pk) == []
    assert selectors.contexts_needing_hypotheses(study) == []


@pytest.mark.django_db(transaction=True)  # the turn reads the database on its own threads
def test_the_interviewer_is_shown_the_question_canonical_contexts_only(
    llm_settings, fake_llm, participant, question
):
    context_services.contexts_seed(question=question, names=["When in distress"])
    Context.objects.create(study=question.study, name="When pending", pending=True).questions.add(
        question
    )
    interview = elicitation_services.interview_start(participant=participant, question=question)
    elicitation_services.interview_message_add(interview=interview, client_id="c1", content="Hi")
    fake_llm.script(Reply("Tell me more."))
    frames = []

    async def send(frame):
        frames.append(frame)

    asyncio.run(interviewer_turn(interview, send))

    system = fake_llm.requests[0]["messages"][0]["content"]
    listed = system.split("The question's contexts:\n", 1)[1]
    assert listed.startswith("<context_text>\nWhen in distress\n</context_text>")
    assert "When pending" not in system
