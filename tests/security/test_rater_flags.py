"""Class 1 of issue 9, the participant farm: one client makes many participants whose votes
carry its own value to the top of a context. The graph build flags the cohort, the gate holds
the winner back, the Reports page shows the winner without it, and excluding it restores it."""

import re

import pytest
from django.urls import reverse

from elicitation import clientaddr, services
from elicitation.models import Impression, WisdomVote
from moralgraph import aggregation, loaders
from moralgraph import services as graph_services
from moralgraph.core import aggregate
from moralgraph.core.raters import BURST, TOO_FAST
from moralgraph.models import GraphBuild, UpgradeHypothesis
from moralgraph.services import graph_build
from tests.factories import linked_value, voted_chain
from tests.graph_support import FAST

FARM_ADDRESS = "203.0.113.9"
FARMERS = 30
TITLES = ("Plain facts", "Care", "Depth of feeling")
HONEST_VOTES = 12 * 3


def farm(study, context, honest_values) -> tuple[object, list]:
    """30 participants from one client and 40 votes, every one saying the farm's value is
    wiser: all 30 on "Depth of feeling -> Obey", the first 10 also on "Care -> Obey"."""
    obey = linked_value(context, "Obey the operator")
    care, depth = honest_values[1], honest_values[2]
    targets = [
        UpgradeHypothesis.objects.create(study=study, context=context, from_value=v, to_value=obey)
        for v in (depth, care)
    ]
    client = clientaddr.client_hash(FARM_ADDRESS)
    farmers = []
    for number in range(FARMERS):
        farmer = services.participant_start(study=study, client_hash=client)
        services.participant_consent(participant=farmer, agreed=True)
        for hypothesis in targets[: 2 if number < 10 else 1]:
            Impression.objects.create(participant=farmer, hypothesis=hypothesis)
            services.vote_record(
                participant=farmer, hypothesis_id=hypothesis.pk, answer=WisdomVote.Answer.WISER
            )
        farmers.append(farmer)
    return obey, farmers


def honest_refusal(context, values) -> None:
    """Every honest voter also says "Plain facts" is no wiser than "Depth of feeling"."""
    backwards = UpgradeHypothesis.objects.create(
        study=context.study, context=context, from_value=values[2], to_value=values[0]
    )
    for voter in {
        vote.participant for vote in WisdomVote.objects.filter(hypothesis__context=context)
    }:
        WisdomVote.objects.create(
            participant=voter, hypothesis=backwards, answer=WisdomVote.Answer.NOT_WISER
        )


@pytest.fixture
def farmed(study):
    context, values = voted_chain(study, TITLES, voters=12, name="When the user is grieving")
    honest_refusal(context, values)
    obey, farmers = farm(study, context, values)
    return {"context": context, "values": values, "obey": obey, "farmers": farmers}


def context_entry(build: GraphBuild, context) -> dict:
    return build.summary["contexts"][str(context.pk)]


def test_without_rater_flags_the_farm_owns_the_top_of_its_context(farmed):
    votes, _ = loaders.study_vote_arrays(farmed["context"].study)
    winner = aggregate(votes, FAST)["contexts"][farmed["context"].pk]["winner"]
    assert votes.n_votes == HONEST_VOTES + 40
    assert winner["value"] == farmed["obey"].pk
    assert winner["reasons"] == []  # publishable


def test_the_build_flags_every_farmer_as_a_burst_answering_too_fast(farmed):
    flags = aggregation.study_rater_flags(farmed["context"].study)
    farmer_ids = {str(f.pk) for f in farmed["farmers"]}
    assert set(flags) == farmer_ids
    assert all(flags[r] == (BURST, TOO_FAST) for r in farmer_ids)


def test_the_gate_holds_the_farmed_winner_back_and_names_the_honest_one(farmed):
    build = graph_build(study=farmed["context"].study, config=FAST)
    quality = build.summary["rater_quality"]
    assert quality["flagged_votes"] == 40
    assert quality["flagged_share"] == pytest.approx(40 / 76)
    assert any(
        "flagged raters 52.6% > 10%" in f for f in build.summary["reliability"]["gate"]["failures"]
    )
    entry = context_entry(build, farmed["context"])
    assert entry["winner"]["value"] == farmed["obey"].pk
    assert any("flagged raters" in reason for reason in entry["winner"]["reasons"])
    honest_top = farmed["values"][2].pk
    assert quality["winners_without_flagged"][str(farmed["context"].pk)] == honest_top


def test_the_reports_page_flags_the_cohort_and_shows_the_winner_without_it(farmed, staff):
    study = farmed["context"].study
    graph_build(study=study, config=FAST)
    page = staff.get(reverse("dashboard:reports", args=[study.slug])).content.decode()
    assert "30 flagged raters cast 40 of 76 votes" in page
    assert "Without flagged raters: <strong>Depth of feeling</strong>" in page
    assert "a different winner" in page
    client = clientaddr.client_hash(FARM_ADDRESS)
    assert f'<code>{client[:10]}</code></td><td class="num">30</td><td class="num">40</td>' in page
    assert str(farmed["farmers"][0].pk) not in re.findall(r"<code>(\w+)</code>", page)


def test_excluding_the_farms_client_gives_the_context_back_to_honest_raters(farmed, staff):
    study = farmed["context"].study
    client = clientaddr.client_hash(FARM_ADDRESS)
    response = staff.post(
        reverse("dashboard:rater_exclusion", args=[study.slug]),
        {"kind": "client", "value": client},
    )
    assert response.status_code == 302
    build = graph_build(study=study, config=FAST)
    assert build.summary["counts"]["votes"] == HONEST_VOTES
    assert build.summary["rater_quality"]["excluded"]["votes"] == 40
    assert build.summary["rater_quality"]["flagged_votes"] == 0
    assert context_entry(build, farmed["context"])["winner"]["value"] == farmed["values"][2].pk


def test_excluding_a_flag_leaves_out_every_rater_carrying_it(farmed):
    study = farmed["context"].study
    graph_services.rater_exclusion_set(study=study, kind="flag", value=TOO_FAST, excluded=True)
    build = graph_build(study=study, config=FAST)
    assert build.summary["rater_quality"]["excluded"]["raters"] == FARMERS


def test_taking_a_cohort_back_in_restores_its_votes(farmed, staff):
    study = farmed["context"].study
    url = reverse("dashboard:rater_exclusion", args=[study.slug])
    staff.post(url, {"kind": "flag", "value": BURST})
    staff.post(url, {"kind": "flag", "value": BURST, "action": "include"})
    assert graph_build(study=study, config=FAST).summary["counts"]["votes"] == HONEST_VOTES + 40


def test_an_unknown_flag_is_refused_and_nothing_is_excluded(farmed, staff):
    study = farmed["context"].study
    url = reverse("dashboard:rater_exclusion", args=[study.slug])
    response = staff.post(url, {"kind": "flag", "value": "made_up"}, follow=True)
    assert "Unknown flag" in response.content.decode()
    assert not study.rater_exclusions.exists()


def test_only_staff_can_exclude_a_cohort(farmed, client):
    study = farmed["context"].study
    url = reverse("dashboard:rater_exclusion", args=[study.slug])
    response = client.post(url, {"kind": "flag", "value": BURST})
    assert response.status_code == 302 and "login" in response.url
    assert not study.rater_exclusions.exists()
