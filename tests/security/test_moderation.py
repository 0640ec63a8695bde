"""Class 8 of issue 9, first half: text one participant (or the model) writes reaches other
participants only after a moderation check passed it or the organizer approved it. Checked
against the fake OpenAI-compatible server at the HTTP wire: its moderation endpoint, or the
LLM judge prompt; with neither, the organizer decides on the dashboard's Moderation page."""

import json

import numpy as np
import pytest
from django.urls import reverse

from elicitation import services as elicitation_services
from elicitation.llm.errors import LLMUnavailable
from elicitation.models import Context, LLMCall, ValuesCard
from elicitation.selectors import participant_draw
from moralgraph import services
from moralgraph.models import CanonicalValue, Moderation, UpgradeHypothesis
from moralgraph.reranker import embedding
from tests.factories import linked_value
from tests.fakes.openai_server import Error, Reply

SLUR_CARD = "People of that faith are vermin"
STORY = (
    "I used to answer friends in trouble with a list of options and facts, because I thought "
    "being thorough was the caring thing. Then a friend cried after I gave her my list, and I "
    "felt how far away I had been from her. Now I notice first what she is afraid of and let "
    "her say her own reasons; the facts still matter, but they come inside that conversation."
)


@pytest.fixture
def moderated(settings, llm_settings, fake_llm, monkeypatch):
    """Moderation on, the endpoint configured, and cards embedded far apart (each its own value)."""
    settings.MGE_MODERATION = "auto"
    settings.LLM_MODERATION_MODEL = "omni-moderation-latest"
    settings.MGE_DEDUPE_ON_CONFIRM = False
    fake_llm.flagged_words = {"vermin"}
    monkeypatch.setattr(embedding, "embed_texts", orthogonal_vectors())
    return fake_llm


def orthogonal_vectors():
    seen: dict[str, int] = {}

    def embed(texts, **options):
        rows = np.zeros((len(texts), embedding.DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            rows[row, seen.setdefault(text, len(seen))] = 1.0
        return rows

    return embed


@pytest.fixture
def context(study) -> Context:
    return Context.objects.create(study=study, name="When the user is grieving")


def confirmed_card(context: Context, title: str) -> ValuesCard:
    return ValuesCard.objects.create(
        study=context.study,
        title=title,
        description="What I attend to when someone I love is in pain.",
        policies=["MOMENTS when they go quiet", "FEELINGS they have not named yet"],
        context=context,
        status=ValuesCard.Status.CONFIRMED,
    )


def value_from_card(committed, card: ValuesCard) -> CanonicalValue:
    """Deduplicate the card into a new value; the moderation check runs on commit."""
    link = committed(services.card_dedupe, card=card)
    return CanonicalValue.objects.get(pk=link.value_id)


def voter_sees(study, hypothesis: UpgradeHypothesis) -> bool:
    voter = elicitation_services.participant_start(study=study)
    elicitation_services.participant_consent(participant=voter, agreed=True)
    drawn = elicitation_services.votes_draw(participant=voter)
    return hypothesis.pk in {impression.hypothesis_id for impression in drawn}


def hypothesis(context, from_value, to_value) -> UpgradeHypothesis:
    return UpgradeHypothesis.objects.create(
        study=context.study, context=context, from_value=from_value, to_value=to_value
    )


def test_a_card_the_endpoint_flags_never_reaches_voters(moderated, committed, context):
    honest = linked_value(context, "Plain facts")
    flagged = value_from_card(committed, confirmed_card(context, SLUR_CARD))
    assert flagged.moderation == Moderation.FLAGGED
    assert flagged.moderation_note == "flagged: harassment"
    assert not voter_sees(context.study, hypothesis(context, honest, flagged))


def test_the_endpoint_is_asked_on_the_wire_with_the_text_voters_would_read(
    moderated, committed, context
):
    value = value_from_card(committed, confirmed_card(context, "Staying close"))
    assert value.moderation == Moderation.PASSED
    request = moderated.moderation_requests[-1]
    assert request["model"] == "omni-moderation-latest"
    assert request["input"].startswith("Staying close\n\nWhat I attend to")
    call = LLMCall.objects.get(purpose="moderation")
    assert (call.model, call.error) == ("omni-moderation-latest", "")


def test_a_value_that_passed_is_drawn_for_voters(moderated, committed, context):
    honest = linked_value(context, "Plain facts")
    clean = value_from_card(committed, confirmed_card(context, "Staying close"))
    assert voter_sees(context.study, hypothesis(context, honest, clean))


def test_the_organizer_sees_the_flagged_value_and_approving_it_shows_it(
    moderated, committed, context, staff
):
    honest = linked_value(context, "Plain facts")
    flagged = value_from_card(committed, confirmed_card(context, SLUR_CARD))
    upgrade = hypothesis(context, honest, flagged)
    queue = reverse("dashboard:moderation", args=[context.study.slug])
    page = staff.get(queue).content.decode()
    assert SLUR_CARD in page and "flagged: harassment" in page
    decide = reverse("dashboard:moderation_value", args=[context.study.slug, flagged.pk])
    assert staff.post(decide, {"decision": "approve"}).status_code == 302
    flagged.refresh_from_db()
    assert flagged.moderation == Moderation.APPROVED
    assert SLUR_CARD not in staff.get(queue).content.decode()
    assert voter_sees(context.study, upgrade)


def test_a_rejected_value_leaves_a_draw_it_was_already_in(moderated, committed, context):
    honest = linked_value(context, "Plain facts")
    clean = value_from_card(committed, confirmed_card(context, "Staying close"))
    upgrade = hypothesis(context, honest, clean)
    voter = elicitation_services.participant_start(study=context.study)
    elicitation_services.participant_consent(participant=voter, agreed=True)
    assert [i.hypothesis_id for i in elicitation_services.votes_draw(participant=voter)] == [
        upgrade.pk
    ]
    services.moderation_decide(item=clean, approved=False)
    assert participant_draw(voter) == []


def test_without_an_endpoint_the_llm_judge_checks_generated_stories(
    moderated, settings, committed, context
):
    settings.LLM_MODERATION_MODEL = ""
    a, b = linked_value(context, "Listing options"), linked_value(context, "Close care")
    rows = [{"from_id": a.pk, "to_id": b.pk, "story": STORY}]
    moderated.script(
        Reply(json.dumps({"hypotheses": rows})),
        Reply(json.dumps({"fit": False, "reason": "It names a private person."})),
    )
    [story] = committed(services.hypotheses_generate, context=context)
    story.refresh_from_db()
    assert (story.moderation, story.moderation_note) == (
        Moderation.FLAGGED,
        "It names a private person.",
    )
    judge = moderated.requests[-1]["messages"]
    assert "<shown_text>" in judge[1]["content"] and STORY in judge[1]["content"]
    assert LLMCall.objects.get(purpose="moderation").prompt_name == "moderation_judge"
    assert not voter_sees(context.study, story)


def test_a_story_the_judge_finds_fit_is_shown(moderated, settings, committed, context):
    settings.LLM_MODERATION_MODEL = ""
    a, b = linked_value(context, "Listing options"), linked_value(context, "Close care")
    rows = [{"from_id": a.pk, "to_id": b.pk, "story": STORY}]
    moderated.script(
        Reply(json.dumps({"hypotheses": rows})), Reply('{"fit": true, "reason": "Kind."}')
    )
    [story] = committed(services.hypotheses_generate, context=context)
    assert voter_sees(context.study, story)


def test_an_unusable_judge_answer_leaves_the_story_waiting(moderated, settings, context):
    settings.LLM_MODERATION_MODEL = ""
    a, b = linked_value(context, "Listing options"), linked_value(context, "Close care")
    story = hypothesis(context, a, b)
    UpgradeHypothesis.objects.filter(pk=story.pk).update(moderation=Moderation.PENDING)
    story.refresh_from_db()
    moderated.script(Reply("It looks fine to me."), Reply("Still fine."))
    assert services.moderation_check(item=story) == Moderation.PENDING
    story.refresh_from_db()
    assert story.moderation_note.startswith("unchecked:")
    assert not voter_sees(context.study, story)


def test_with_no_model_at_all_new_values_wait_for_the_organizer(
    moderated, settings, committed, context
):
    settings.LLM_MODERATION_MODEL = ""
    settings.LLM_BASE_URL = ""
    settings.LLM_API_KEY = ""
    honest = linked_value(context, "Plain facts")
    waiting = value_from_card(committed, confirmed_card(context, "Staying close"))
    assert waiting.moderation == Moderation.PENDING
    assert "organizer" in waiting.moderation_note
    upgrade = hypothesis(context, honest, waiting)
    assert not voter_sees(context.study, upgrade)
    services.moderation_decide(item=waiting, approved=True)
    assert voter_sees(context.study, upgrade)


def test_an_endpoint_outage_raises_for_a_retry_and_shows_nothing(moderated, context):
    honest = linked_value(context, "Plain facts")
    value = linked_value(context, "Staying close")
    CanonicalValue.objects.filter(pk=value.pk).update(moderation=Moderation.PENDING)
    value.refresh_from_db()
    moderated.moderation_errors.extend([Error(503)] * 3)
    with pytest.raises(LLMUnavailable):
        services.moderation_check(item=value)
    value.refresh_from_db()
    assert value.moderation == Moderation.PENDING
    assert not voter_sees(context.study, hypothesis(context, honest, value))


def test_a_late_check_does_not_overturn_the_organizers_decision(moderated, context):
    value = linked_value(context, "Vermin, all of them")
    CanonicalValue.objects.filter(pk=value.pk).update(moderation=Moderation.PENDING)
    stale = CanonicalValue.objects.get(pk=value.pk)
    services.moderation_decide(item=CanonicalValue.objects.get(pk=value.pk), approved=False)
    assert services.moderation_check(item=stale) == Moderation.REJECTED


def test_only_staff_can_approve(moderated, committed, context, client):
    flagged = value_from_card(committed, confirmed_card(context, SLUR_CARD))
    decide = reverse("dashboard:moderation_value", args=[context.study.slug, flagged.pk])
    response = client.post(decide, {"decision": "approve"})
    assert response.status_code == 302 and "login" in response.url
    flagged.refresh_from_db()
    assert flagged.moderation == Moderation.FLAGGED


def test_an_item_of_another_study_cannot_be_decided_from_this_one(
    moderated, committed, context, staff
):
    from elicitation.models import Study

    other = Study.objects.create(slug="other", title="Other", state=Study.State.OPEN)
    flagged = value_from_card(committed, confirmed_card(context, SLUR_CARD))
    decide = reverse("dashboard:moderation_value", args=[other.slug, flagged.pk])
    assert staff.post(decide, {"decision": "approve"}).status_code == 404
    flagged.refresh_from_db()
    assert flagged.moderation == Moderation.FLAGGED
