"""The dashboard's canonical values: list and search, one value in full, and the organizer's
edits, merges and splits, with the ones the services refuse explained."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from dashboard.selectors import participant_short_id
from elicitation.models import Context, ValuesCard, WisdomVote
from moralgraph import services
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis
from tests.conftest import participant_cookie
from tests.factories import linked_value

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def url(name: str, value: CanonicalValue | None = None, slug: str = "abortion-study") -> str:
    kwargs = {"slug": slug} if value is None else {"slug": slug, "pk": value.pk}
    return reverse(f"dashboard:{name}", kwargs=kwargs)


def with_cards(context: Context, title: str, cards: int) -> CanonicalValue:
    """A value holding `cards` cards: its own, and more linked by the embedding."""
    value = linked_value(context, title)
    for number in range(1, cards):
        card = ValuesCard.objects.create(
            study=context.study,
            title=f"{title} card {number}",
            description="d",
            context=context,
            status=ValuesCard.Status.CONFIRMED,
        )
        CardLink.objects.create(card=card, value=value, method="embedding", similarity=0.9731)
    return value


def card_ids(value: CanonicalValue) -> list[int]:
    return list(value.card_links.order_by("card_id").values_list("card_id", flat=True))


def page_of(response) -> str:
    return response.content.decode()


@pytest.fixture
def context(study) -> Context:
    return Context.objects.create(study=study, name="When the user is facing a hard decision")


@pytest.fixture
def honesty(context) -> CanonicalValue:
    return with_cards(context, "Honesty", 3)


@pytest.fixture
def care(context) -> CanonicalValue:
    return with_cards(context, "Care", 1)


# --- who may see it ---


def test_values_pages_send_anyone_but_staff_to_the_login_page(
    participant, honesty, care, django_user_model
):
    member = django_user_model.objects.create_user(username="member", password="a-long-password")
    logged_in, with_cookie = Client(), Client()
    logged_in.force_login(member)
    with_cookie.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)
    gets = [url("values"), url("value", honesty)]
    posts = [url("value", honesty), url("value_merge", honesty), url("value_split", honesty)]

    for visitor in (Client(), logged_in, with_cookie):
        for response in [visitor.get(u) for u in gets] + [visitor.post(u) for u in posts]:
            assert response.status_code == 302
            assert response["Location"].startswith(settings.LOGIN_URL)
    assert CanonicalValue.objects.filter(merged_into__isnull=True).count() == 2


def test_merge_and_split_only_take_a_post(staff, honesty):
    assert staff.get(url("value_merge", honesty)).status_code == 405
    assert staff.get(url("value_split", honesty)).status_code == 405


def test_a_merge_without_its_csrf_token_is_refused(organizer, honesty, care):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(organizer)

    response = browser.post(url("value_merge", honesty), {"target": care.pk})

    assert response.status_code == 403
    assert CanonicalValue.objects.get(pk=honesty.pk).merged_into is None


# --- the list ---


def test_the_list_shows_live_values_with_their_cards_and_contexts(staff, honesty, care, context):
    gone = with_cards(context, "Gone", 1)
    services.canonical_values_merge(target=care, sources=[gone])

    response = staff.get(url("values"))

    rows = {row.value.title: row for row in response.context["rows"]}
    assert set(rows) == {"Care", "Honesty"}
    assert (rows["Honesty"].value.card_count, rows["Care"].value.card_count) == (3, 2)
    assert rows["Care"].contexts == [context.name]
    assert "What Honesty is about." in page_of(response)


def test_the_list_searches_by_title(staff, honesty, care):
    response = staff.get(url("values"), {"q": "hon"})

    assert [row.value.title for row in response.context["rows"]] == ["Honesty"]
    assert "No values match" in page_of(staff.get(url("values"), {"q": "zzz"}))


def test_the_list_costs_the_same_few_queries_however_many_values(
    staff, context, django_assert_max_num_queries
):
    for number in range(60):
        with_cards(context, f"Value {number:02}", 2)

    with django_assert_max_num_queries(6):
        response = staff.get(url("values"))

    assert len(response.context["rows"]) == 50


# --- one value ---


def test_a_value_shows_its_cards_and_hypotheses(staff, study, context, honesty, care, participant):
    ValuesCard.objects.filter(pk=card_ids(honesty)[0]).update(participant=participant)
    UpgradeHypothesis.objects.create(
        study=study, context=context, from_value=care, to_value=honesty, story="I saw more."
    )

    page = page_of(staff.get(url("value", honesty)))

    assert "Honesty card 1" in page and "Near-identical embedding" in page and "0.973" in page
    assert participant_short_id(participant.pk) in page and participant.token not in page
    assert "I saw more." in page and url("value", care) in page
    assert f'name="cards" value="{card_ids(honesty)[1]}"' in page
    assert f'<option value="{care.pk}">Care</option>' in page
    assert f'<option value="{honesty.pk}">' not in page


def test_a_value_costs_the_same_few_queries_however_many_cards(
    staff, context, django_assert_max_num_queries
):
    crowded = with_cards(context, "Crowded", 40)

    with django_assert_max_num_queries(9):
        response = staff.get(url("value", crowded))

    assert "Crowded card 39" in page_of(response)


def test_a_value_of_another_study_is_not_found(staff, honesty):
    other = type(honesty.study).objects.create(slug="other", title="Other")

    for name in ("value", "value_merge", "value_split"):
        method = staff.get if name == "value" else staff.post
        assert method(url(name, honesty, slug=other.slug)).status_code == 404


def test_card_and_value_text_is_escaped(staff, study, context, honesty):
    CanonicalValue.objects.filter(pk=honesty.pk).update(title=XSS, policies=[XSS])
    ValuesCard.objects.filter(pk=card_ids(honesty)[0]).update(title=XSS)

    for page in (page_of(staff.get(url("value", honesty))), page_of(staff.get(url("values")))):
        assert XSS not in page and ESCAPED in page


# --- edit ---


def test_editing_a_value_saves_its_words_and_drops_its_stale_embedding(staff, honesty):
    CanonicalValue.objects.filter(pk=honesty.pk).update(embedding=b"x", embedding_model="m")
    data = {"title": "Candour", "description": "Saying it.", "policies": "- ONE\n\nTWO\n"}

    response = staff.post(url("value", honesty), data, follow=True)

    honesty.refresh_from_db()
    assert (honesty.title, honesty.description, honesty.policies) == (
        "Candour",
        "Saying it.",
        ["ONE", "TWO"],
    )
    assert honesty.embedding is None and honesty.embedding_model == ""
    assert "Saved “Candour”." in page_of(response)


def test_an_edit_without_policies_shows_the_error_and_saves_nothing(staff, honesty):
    response = staff.post(
        url("value", honesty), {"title": "X", "description": "Y", "policies": " "}
    )

    assert response.status_code == 200
    assert "This field is required." in page_of(response)
    assert CanonicalValue.objects.get(pk=honesty.pk).title == "Honesty"


def test_the_service_refuses_to_edit_a_merged_value(honesty, care):
    services.canonical_values_merge(target=care, sources=[honesty])

    with pytest.raises(ValueError, match="was merged into another value"):
        services.canonical_value_edit(value=honesty, title="X", description="Y", policies=["Z"])
    assert CanonicalValue.objects.get(pk=honesty.pk).title == "Honesty"


# --- merge ---


def test_merging_moves_the_cards_to_the_chosen_value(staff, honesty, care):
    response = staff.post(url("value_merge", honesty), {"target": care.pk}, follow=True)

    assert response.redirect_chain[-1][0] == url("value", care)
    assert "Merged “Honesty” into “Care”." in page_of(response)
    assert CanonicalValue.objects.get(pk=honesty.pk).merged_into == care
    assert care.card_links.count() == 4


def test_a_merged_value_says_where_it_went_and_offers_no_changes(staff, honesty, care):
    services.canonical_values_merge(target=care, sources=[honesty])

    page = page_of(staff.get(url("value", honesty)))

    assert "Merged into" in page and url("value", care) in page
    assert url("value_merge", honesty) not in page and url("value_split", honesty) not in page
    assert 'name="title"' not in page


@pytest.mark.parametrize("target", ["self", "merged", "missing", ""])
def test_a_merge_into_anything_but_another_live_value_is_refused(
    staff, context, honesty, care, target
):
    gone = with_cards(context, "Gone", 1)
    services.canonical_values_merge(target=care, sources=[gone])
    chosen = {"self": honesty.pk, "merged": gone.pk, "missing": 9999, "": ""}[target]

    response = staff.post(url("value_merge", honesty), {"target": chosen}, follow=True)

    expected = "Choose the value to merge into." if target == "" else "Choose a live value"
    assert expected in page_of(response)
    assert CanonicalValue.objects.get(pk=honesty.pk).merged_into is None
    assert honesty.card_links.count() == 3


@pytest.mark.parametrize("action", ["value", "value_merge", "value_split"])
def test_a_value_merged_away_cannot_be_edited_merged_or_split(
    staff, context, honesty, care, action
):
    other = with_cards(context, "Other", 1)
    services.canonical_values_merge(target=care, sources=[honesty])
    data = {
        "value": {"title": "X", "description": "Y", "policies": "Z"},
        "value_merge": {"target": other.pk},
        "value_split": {"cards": card_ids(care)[:1]},
    }[action]

    response = staff.post(url(action, honesty), data, follow=True)

    assert "was merged into “Care” and can no longer change" in page_of(response)
    honesty.refresh_from_db()
    assert (honesty.title, honesty.merged_into) == ("Honesty", care)
    assert care.card_links.count() == 4 and CanonicalValue.objects.count() == 3


def test_a_merge_the_service_refuses_is_explained(staff, honesty, care, monkeypatch):
    def refuse(**kwargs):
        raise ValueError("“Care” was merged into another value; merge into that one.")

    monkeypatch.setattr(services, "canonical_values_merge", refuse)

    response = staff.post(url("value_merge", honesty), {"target": care.pk}, follow=True)

    assert "merge into that one." in page_of(response)
    assert response.redirect_chain[-1][0] == url("value", honesty)


def test_merging_keeps_voted_hypotheses(staff, study, context, honesty, care, participant):
    hypothesis = UpgradeHypothesis.objects.create(
        study=study, context=context, from_value=honesty, to_value=care
    )
    WisdomVote.objects.create(participant=participant, hypothesis=hypothesis, answer="wiser")

    staff.post(url("value_merge", honesty), {"target": care.pk})

    hypothesis.refresh_from_db()
    assert not hypothesis.is_active and hypothesis.votes.count() == 1


# --- split ---


def test_splitting_moves_the_chosen_cards_to_a_new_value(staff, honesty):
    first, second, third = card_ids(honesty)

    response = staff.post(url("value_split", honesty), {"cards": [second, third]}, follow=True)

    new = CanonicalValue.objects.get(title="Honesty card 1")
    assert response.redirect_chain[-1][0] == url("value", new)
    assert "2 card(s) of “Honesty” now form “Honesty card 1”." in page_of(response)
    assert card_ids(honesty) == [first] and card_ids(new) == [second, third]


@pytest.mark.parametrize(
    ("choose", "message"),
    [
        ("all", "Leave at least one card with the value"),
        ("none", "Choose one or more cards to split off."),
        ("foreign", "Choose cards that belong to this value."),
        ("garbage", "Choose cards that belong to this value."),
    ],
)
def test_a_split_the_value_cannot_make_is_explained(staff, honesty, care, choose, message):
    cards = {
        "all": card_ids(honesty),
        "none": [],
        "foreign": [card_ids(honesty)[0], card_ids(care)[0]],
        "garbage": ["x"],
    }[choose]

    response = staff.post(url("value_split", honesty), {"cards": cards}, follow=True)

    assert message in page_of(response)
    assert response.redirect_chain[-1][0] == url("value", honesty)
    assert honesty.card_links.count() == 3 and CanonicalValue.objects.count() == 2


# --- showing an upgrade hypothesis to voters, or not ---


def hypothesis_between(context, source, target) -> UpgradeHypothesis:
    return UpgradeHypothesis.objects.create(
        study=context.study, context=context, from_value=source, to_value=target
    )


def activity_url(hypothesis, slug: str = "abortion-study") -> str:
    return reverse("dashboard:hypothesis_activity", kwargs={"slug": slug, "pk": hypothesis.pk})


def test_an_organizer_stops_showing_a_hypothesis_and_its_votes_stay(
    staff, context, honesty, participant
):
    care = with_cards(context, "Care", 1)
    hypothesis = hypothesis_between(context, honesty, care)
    WisdomVote.objects.create(participant=participant, hypothesis=hypothesis, answer="wiser")

    response = staff.post(activity_url(hypothesis), {"active": "0", "value": honesty.pk})

    assert response.status_code == 302 and response.url == url("value", honesty)
    hypothesis.refresh_from_db()
    assert hypothesis.is_active is False and hypothesis.votes.count() == 1
    page = page_of(staff.get(response.url))
    assert "is no longer shown to voters" in page and "Show again" in page


def test_an_organizer_shows_a_hypothesis_again(staff, context, honesty):
    care = with_cards(context, "Care", 1)
    hypothesis = hypothesis_between(context, honesty, care)
    hypothesis.is_active = False
    hypothesis.save()

    staff.post(activity_url(hypothesis), {"active": "1", "value": care.pk})

    hypothesis.refresh_from_db()
    assert hypothesis.is_active is True


def test_another_studys_hypothesis_is_not_found_and_a_get_changes_nothing(staff, context, honesty):
    care = with_cards(context, "Care", 1)
    hypothesis = hypothesis_between(context, honesty, care)

    assert (
        staff.post(activity_url(hypothesis, slug="elsewhere"), {"active": "0"}).status_code == 404
    )
    assert staff.get(activity_url(hypothesis)).status_code == 405
    hypothesis.refresh_from_db()
    assert hypothesis.is_active is True
