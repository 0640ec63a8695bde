import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from elicitation.models import Context
from moralgraph.models import UpgradeHypothesis
from tests.factories import linked_value
from tests.fakes.openai_server import Reply

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("llm_settings")]
STORY = (
    "I used to hand my sister the facts and the options, sure that being thorough was the "
    "caring thing. When she went quiet after my neat list I felt useless and a little ashamed. "
    "Now I notice first what she is afraid of and let her say her own reasons out loud."
)


def test_the_command_generates_hypotheses_per_context(study, fake_llm):
    context = Context.objects.create(study=study, name="When the user is facing a hard choice")
    a, b = linked_value(context, "Listing Options"), linked_value(context, "Close Care")
    fake_llm.script(
        Reply(json.dumps({"hypotheses": [{"from_id": a.pk, "to_id": b.pk, "story": STORY}]}))
    )
    out = StringIO()

    call_command("generate_hypotheses", "--study", study.slug, stdout=out)

    assert f"Context {context.pk}: 1 new hypotheses" in out.getvalue()
    assert UpgradeHypothesis.objects.filter(context=context, from_value=a, to_value=b).exists()


def test_an_unknown_study_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("generate_hypotheses", "--study", "nope")
