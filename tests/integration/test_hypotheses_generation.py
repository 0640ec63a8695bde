"""Generating upgrade hypotheses for a context, against the fake LLM over real HTTP."""

import json

import pytest

from elicitation.llm.errors import LLMOutputInvalid
from elicitation.models import Context, LLMCall
from moralgraph import services
from moralgraph.models import UpgradeHypothesis
from moralgraph.tasks import generate_hypotheses, generate_study_hypotheses
from tests.factories import linked_value
from tests.fakes.openai_server import Reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("llm_settings")]

STORY = (
    "I used to answer friends in trouble with a list of options and facts, because I thought "
    "being thorough was the caring thing. Then a friend cried after I gave her my list, and I "
    "felt how far away I had been from her. Now I notice first what she is afraid of and let "
    "her say her own reasons; the facts still matter, but they come inside that conversation."
)


@pytest.fixture
def context(study) -> Context:
    return Context.objects.create(study=study, name="When the user is facing a hard decision")


def answer(*edges: tuple[object, object]) -> Reply:
    rows = [{"from_id": a, "to_id": b, "story": STORY} for a, b in edges]
    return Reply(json.dumps({"hypotheses": rows}))


def test_valid_hypotheses_are_stored_and_the_rest_refused(context, fake_llm):
    a, b, c = (linked_value(context, t) for t in ("Listing Options", "Close Care", "Own Reasons"))
    UpgradeHypothesis.objects.create(
        study=context.study, context=context, from_value=c, to_value=a, source="manual"
    )
    fake_llm.script(answer((a.pk, b.pk), (b.pk, b.pk), (a.pk, 99999), (a.pk, b.pk), (a.pk, c.pk)))

    stored = services.hypotheses_generate(context=context)

    [hypothesis] = stored
    assert (hypothesis.from_value, hypothesis.to_value, hypothesis.story) == (a, b, STORY)
    assert hypothesis.source == UpgradeHypothesis.Source.LLM
    assert hypothesis.prompt_version.startswith("1-")
    assert UpgradeHypothesis.objects.filter(context=context).count() == 2
    call = LLMCall.objects.get()
    assert (call.purpose, call.prompt_name, call.prompt_version) == (
        "hypotheses",
        "upgrade_hypotheses",
        hypothesis.prompt_version,
    )


def test_the_model_sees_only_the_values_of_the_context(context, study, fake_llm):
    a, b = linked_value(context, "Listing Options"), linked_value(context, "Close Care")
    elsewhere = Context.objects.create(study=study, name="When the user is grieving")
    linked_value(elsewhere, "Quiet Presence")
    fake_llm.script(answer())

    services.hypotheses_generate(context=context)

    shown = fake_llm.requests[0]["messages"][1]["content"]
    assert f"Value {a.pk}:" in shown and f"Value {b.pk}:" in shown
    assert "Quiet Presence" not in shown
    assert "<context_text>\nWhen the user is facing a hard decision\n</context_text>" in shown


def test_an_answer_with_nothing_usable_is_retried_once_then_raised(context, fake_llm):
    a = linked_value(context, "Listing Options")
    linked_value(context, "Close Care")
    fake_llm.script(answer((a.pk, a.pk)), Reply("Here are my hypotheses: none."))

    with pytest.raises(LLMOutputInvalid, match="not valid JSON"):
        services.hypotheses_generate(context=context)

    first, second = fake_llm.requests
    assert "Hypothesis 1 goes from value" in second["messages"][-1]["content"]
    assert not UpgradeHypothesis.objects.exists()


def test_a_context_with_one_value_asks_nothing(context, fake_llm):
    linked_value(context, "Listing Options")

    assert services.hypotheses_generate(context=context) == []
    assert fake_llm.requests == []


def test_the_task_is_idempotent_until_new_cards_arrive(context, study, fake_llm):
    a, b = linked_value(context, "Listing Options"), linked_value(context, "Close Care")
    fake_llm.script(answer((a.pk, b.pk)))

    assert generate_hypotheses.delay(study.pk, context.pk).get() == 1
    assert generate_hypotheses.delay(study.pk, context.pk).get() == 0
    assert len(fake_llm.requests) == 1

    c = linked_value(context, "Own Reasons")
    fake_llm.script(answer((a.pk, b.pk), (b.pk, c.pk)))
    assert generate_hypotheses.delay(study.pk, context.pk).get() == 1
    assert UpgradeHypothesis.objects.count() == 2


def test_the_study_job_runs_one_generation_per_context_with_cards(context, study, fake_llm):
    linked_value(context, "Listing Options")
    linked_value(context, "Close Care")
    Context.objects.create(study=study, name="When the user is without cards")
    fake_llm.script(answer())

    assert generate_study_hypotheses.delay(study.pk).get() == 1
    assert len(fake_llm.requests) == 1


def test_the_task_ignores_a_context_of_another_study(context, fake_llm):
    assert generate_hypotheses.delay(context.study_id + 1, context.pk).get() == 0
