"""Organizer merges and splits of canonical values, through services and the admin."""

import pytest
from django.urls import reverse

from elicitation.models import Context, ValuesCard, WisdomVote
from moralgraph import services
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis

pytestmark = pytest.mark.django_db


@pytest.fixture
def context(study) -> Context:
    return Context.objects.create(study=study, name="When the user is facing a hard decision")


def value_with_cards(study, title: str, cards: int = 1) -> CanonicalValue:
    value = CanonicalValue.objects.create(study=study, title=title, description="d")
    for number in range(cards):
        card = ValuesCard.objects.create(
            study=study,
            title=f"{title} card {number}",
            description=f"Card {number} of {title}.",
            policies=["MOMENTS of x"],
            status=ValuesCard.Status.CONFIRMED,
        )
        CardLink.objects.create(card=card, value=value, method=CardLink.Method.NEW)
    return value


def edge(context, source, target) -> UpgradeHypothesis:
    return UpgradeHypothesis.objects.create(
        study=context.study, context=context, from_value=source, to_value=target
    )


def edges(context) -> set[tuple[str, str]]:
    rows = UpgradeHypothesis.objects.filter(context=context, is_active=True)
    return {(h.from_value.title, h.to_value.title) for h in rows}


def every_card_is_linked(study) -> bool:
    return not ValuesCard.objects.filter(study=study, canonical_link__isnull=True).exists()


# --- merge ---


def test_merging_moves_cards_and_hypotheses_and_drops_loops_and_repeats(study, context):
    a, b, c = (value_with_cards(study, t, 2) for t in "ABC")
    for source, target in [(a, b), (b, c), (a, c), (c, b)]:
        edge(context, source, target)

    services.canonical_values_merge(target=a, sources=[b])

    assert set(a.card_links.values_list("card__title", flat=True)) == {
        "A card 0", "A card 1", "B card 0", "B card 1",
    }  # fmt: skip
    assert every_card_is_linked(study)
    assert set(a.card_links.values_list("method", flat=True)) == {"new", "manual"}
    assert edges(context) == {("A", "C"), ("C", "A")}
    assert UpgradeHypothesis.objects.count() == 2
    b.refresh_from_db()
    assert b.merged_into == a and not b.card_links.exists()


def test_a_dropped_hypothesis_with_votes_is_deactivated_not_deleted(study, context, participant):
    a, b = value_with_cards(study, "A"), value_with_cards(study, "B")
    voted = edge(context, a, b)
    WisdomVote.objects.create(participant=participant, hypothesis=voted, answer="wiser")

    services.canonical_values_merge(target=a, sources=[b])

    voted.refresh_from_db()
    assert not voted.is_active and voted.votes.count() == 1
    assert (voted.from_value, voted.to_value) == (a, b)


def test_values_merged_earlier_follow_their_target(study):
    a, b, c = (value_with_cards(study, t) for t in "ABC")
    services.canonical_values_merge(target=b, sources=[c])

    services.canonical_values_merge(target=a, sources=[b])

    assert set(CanonicalValue.objects.filter(merged_into=a)) == {b, c}
    assert a.card_links.count() == 3


def test_a_value_cannot_be_merged_into_one_that_was_merged_away(study):
    a, b, c = (value_with_cards(study, t) for t in "ABC")
    services.canonical_values_merge(target=a, sources=[b])

    with pytest.raises(ValueError, match="was merged into another value"):
        services.canonical_values_merge(target=b, sources=[c])


def test_values_of_different_studies_cannot_be_merged(study):
    other = type(study).objects.create(slug="other", title="Other")

    with pytest.raises(ValueError, match="different studies"):
        services.canonical_values_merge(
            target=value_with_cards(study, "A"), sources=[value_with_cards(other, "B")]
        )


# --- split ---


def test_splitting_makes_a_new_value_from_the_chosen_cards(study, context):
    value = value_with_cards(study, "A", 3)
    edge(context, value, value_with_cards(study, "B"))
    first, second, third = value.card_links.order_by("card_id").values_list("card_id", flat=True)

    new = services.canonical_value_split(value=value, card_ids=[third, second])

    assert new.title == "A card 1" and new.description == "Card 1 of A."
    assert set(new.card_links.values_list("card_id", flat=True)) == {second, third}
    assert list(value.card_links.values_list("card_id", flat=True)) == [first]
    assert set(new.card_links.values_list("method", flat=True)) == {"manual"}
    assert every_card_is_linked(study)
    assert edges(context) == {("A", "B")}


@pytest.mark.parametrize(
    ("choose", "message"),
    [
        (lambda ids, other: ids, "Leave at least one card"),
        (lambda ids, other: [ids[0], other], "belong to this value"),
        (lambda ids, other: [], "belong to this value"),
    ],
)
def test_a_split_must_take_some_but_not_all_of_the_values_cards(study, choose, message):
    value, other = value_with_cards(study, "A", 2), value_with_cards(study, "B")
    ids = list(value.card_links.values_list("card_id", flat=True))
    other_card = other.card_links.get().card_id

    with pytest.raises(ValueError, match=message):
        services.canonical_value_split(value=value, card_ids=choose(ids, other_card))
    assert value.card_links.count() == 2


# --- admin ---


def test_the_admin_lists_values_links_and_hypotheses(admin_client, study, context):
    a, b = value_with_cards(study, "A"), value_with_cards(study, "B")
    edge(context, a, b)

    for model in ("canonicalvalue", "cardlink", "upgradehypothesis"):
        response = admin_client.get(reverse(f"admin:moralgraph_{model}_changelist"))
        assert response.status_code == 200, model
    page = admin_client.get(reverse("admin:moralgraph_canonicalvalue_change", args=[a.pk]))
    assert "A card 0" in page.content.decode()
    filtered = admin_client.get(
        reverse("admin:moralgraph_cardlink_changelist") + f"?value__id__exact={a.pk}"
    )
    assert filtered.status_code == 200
    assert "A card 0" in filtered.content.decode() and "B card 0" not in filtered.content.decode()


def test_the_admin_merges_selected_values_into_the_first(admin_client, study):
    a, b, c = (value_with_cards(study, t) for t in "ABC")

    response = admin_client.post(
        reverse("admin:moralgraph_canonicalvalue_changelist"),
        {"action": "merge_into_first", "_selected_action": [c.pk, a.pk, b.pk]},
        follow=True,
    )

    assert "Merged 2 value(s) into “A”." in response.content.decode()
    assert a.card_links.count() == 3 and every_card_is_linked(study)


def test_the_admin_splits_selected_cards_off_into_a_new_value(admin_client, study):
    value = value_with_cards(study, "A", 3)
    links = list(value.card_links.order_by("card_id"))

    response = admin_client.post(
        reverse("admin:moralgraph_cardlink_changelist"),
        {"action": "split_into_new_value", "_selected_action": [links[1].pk, links[2].pk]},
        follow=True,
    )

    assert "2 card(s) of “A” now form “A card 1”." in response.content.decode()
    assert value.card_links.count() == 1 and CanonicalValue.objects.count() == 2


def test_the_admin_explains_a_split_it_refuses(admin_client, study):
    value = value_with_cards(study, "A", 1)

    response = admin_client.post(
        reverse("admin:moralgraph_cardlink_changelist"),
        {"action": "split_into_new_value", "_selected_action": [value.card_links.get().pk]},
        follow=True,
    )

    assert "Leave at least one card with the value" in response.content.decode()
