"""The database side of rater flags: when a hypothesis was first shown, how much text it showed,
and who arrived from which client."""

from datetime import timedelta

import pytest

from elicitation import services
from elicitation.models import Context, Impression, WisdomVote
from moralgraph import aggregation, loaders
from moralgraph.core.raters import TOO_FAST
from moralgraph.models import UpgradeHypothesis
from tests.factories import linked_value

pytestmark = pytest.mark.django_db

STORY = "x" * 2000  # 2,000 characters: 50 s at 40 characters a second


@pytest.fixture
def upgrade(study) -> UpgradeHypothesis:
    context = Context.objects.create(study=study, name="When the user is grieving")
    a, b = linked_value(context, "Plain facts"), linked_value(context, "Care")
    return UpgradeHypothesis.objects.create(
        study=study, context=context, from_value=a, to_value=b, story=STORY
    )


def vote_after(study, upgrade, seconds: float, answer=WisdomVote.Answer.WISER):
    voter = services.participant_consent(
        participant=services.participant_start(study=study), agreed=True
    )
    shown = Impression.objects.create(participant=voter, hypothesis=upgrade)
    vote, _ = services.vote_record(participant=voter, hypothesis_id=upgrade.pk, answer=answer)
    Impression.objects.filter(pk=shown.pk).update(
        shown_at=vote.created_at - timedelta(seconds=seconds)
    )
    return voter


def test_a_timed_vote_counts_the_story_and_both_values_as_shown_text(study, upgrade):
    vote_after(study, upgrade, 60)
    [timed] = loaders.study_timed_votes(study).records()
    values = "".join(
        [
            "Plain facts",
            "What Plain facts is about.",
            "MOMENTS of plain facts",
            "Care",
            "What Care is about.",
            "MOMENTS of care",
        ]
    )
    assert timed.shown_chars == len(STORY) + len(upgrade.context.name) + len(values)
    assert timed.answered_at - timed.shown_at == pytest.approx(60)


def test_the_first_impression_of_a_hypothesis_is_when_it_was_shown(study, upgrade):
    voter = vote_after(study, upgrade, 120)
    Impression.objects.create(participant=voter, hypothesis=upgrade)  # shown again later
    [timed] = loaders.study_timed_votes(study).records()
    assert timed.answered_at - timed.shown_at == pytest.approx(120)


def test_a_voter_who_answers_a_long_story_in_two_seconds_is_flagged(study, upgrade):
    fast = vote_after(study, upgrade, 2)
    slow = vote_after(study, upgrade, 90)
    flags = aggregation.study_rater_flags(study)
    assert flags == {str(fast.pk): (TOO_FAST,)}
    assert str(slow.pk) not in flags


def test_the_reading_speed_is_a_setting(study, upgrade, settings):
    settings.MGE_FLAG_READING_CHARS_PER_SECOND = 10_000
    vote_after(study, upgrade, 2)
    assert aggregation.study_rater_flags(study) == {}


def test_arrivals_carry_each_participants_client_hash(study):
    one = services.participant_start(study=study, client_hash="a" * 32)
    services.participant_start(study=study)
    arrivals = {a.rater_id: a.client_hash for a in loaders.study_rater_arrivals(study)}
    assert arrivals[str(one.pk)] == "a" * 32
    assert loaders.study_rater_clients(study) == {str(one.pk): "a" * 32}


def test_the_build_reads_votes_once_with_the_same_timing_as_the_checks_alone(study, upgrade):
    for seconds in (5, 60, 300):
        vote_after(study, upgrade, seconds)

    arrays, _, timed = loaders.study_votes(study)

    alone = loaders.study_timed_votes(study).records()
    in_order = sorted(timed.records(), key=lambda v: v.answered_at)
    assert in_order == sorted(alone, key=lambda v: v.answered_at)
    assert arrays.n_votes == len(timed) == 3


def test_a_vote_is_timed_from_its_own_voters_first_impression_or_not_at_all(study, upgrade):
    timed_voter = vote_after(study, upgrade, 30)
    other = services.participant_consent(
        participant=services.participant_start(study=study), agreed=True
    )
    WisdomVote.objects.create(participant=other, hypothesis=upgrade, answer="wiser")  # unshown
    Impression.objects.create(participant=other, hypothesis=None)  # a card draw, not this item

    by_voter = {v.rater_id: v for v in loaders.study_timed_votes(study).records()}

    assert by_voter[str(other.pk)].shown_at is None
    timed = by_voter[str(timed_voter.pk)]
    assert timed.answered_at - timed.shown_at == pytest.approx(30)
