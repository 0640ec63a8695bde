"""Wisdom votes after the card: the draw, one idempotent vote per hypothesis, results, feedback."""

import random

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from elicitation import services
from elicitation.models import (
    Context,
    Impression,
    Participant,
    Question,
    ValuesCard,
    WisdomVote,
)
from elicitation.selectors import participant_placements
from moralgraph.core import Config
from moralgraph.models import CanonicalValue, CardLink, GraphBuild, UpgradeHypothesis
from moralgraph.services import graph_build
from tests.conftest import participant_cookie

XSS = "<script>alert(1)</script>"
FAST = Config(bootstrap_samples=20, split_half_repeats=4)
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CONTEXT = "When the user is facing a hard personal decision"
CARD = {
    "title": "Grounded Personal Discernment",
    "description": "Staying close to what she feels.",
    "policies": ["FEELINGS of unease", "MOMENTS of clarity", "OPPORTUNITIES to reflect"],
    "context": CONTEXT,
}


def url(name: str, study) -> str:
    return reverse(f"elicitation:{name}", kwargs={"slug": study.slug})


def client_for(participant: Participant) -> Client:
    client = Client()
    client.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)
    return client


def confirmed_card(participant: Participant, question, **fields) -> ValuesCard:
    interview = services.interview_start(participant=participant, question=question)
    card = services.card_draft_save(interview=interview, **{**CARD, **fields})
    return services.card_confirm(card=card)


def value(study, title: str, **fields) -> CanonicalValue:
    defaults = {"description": f"About {title.lower()}.", "policies": [f"MOMENTS of {title}"]}
    return CanonicalValue.objects.create(study=study, title=title, **{**defaults, **fields})


def voter(study) -> Participant:
    return services.participant_consent(
        participant=services.participant_start(study=study), agreed=True
    )


def votes_on(hypothesis: UpgradeHypothesis, *answers: str) -> None:
    for answer in answers:
        WisdomVote.objects.create(
            participant=voter(hypothesis.study), hypothesis=hypothesis, answer=answer
        )


def vote_data(impression: Impression, answer: str = "wiser", client_id: str = "c-1") -> dict:
    return {
        "hypothesis": impression.hypothesis_id,
        "answer": answer,
        "reason": "",
        "client_id": client_id,
    }


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


@pytest.fixture
def my_card(participant, question) -> ValuesCard:
    return confirmed_card(participant, question)


@pytest.fixture
def graph(study, my_card) -> dict:
    """Five values in my card's context, mine among them, and upgrades with 0 to 3 votes."""
    context = Context.objects.get(study=study, name=CONTEXT)
    mine, a, b, c, d = (value(study, t) for t in ("Mine", "Alpha", "Beta", "Gamma", "Delta"))
    CardLink.objects.create(card=my_card, value=mine, method=CardLink.Method.NEW)

    def upgrade(source, target, story="I used to see it one way; then I saw more.") -> object:
        return UpgradeHypothesis.objects.create(
            study=study, context=context, from_value=source, to_value=target, story=story
        )

    hypotheses = {
        "into_mine": upgrade(a, mine),
        "out_of_mine": upgrade(mine, b),
        "a_c": upgrade(a, c),
        "b_c": upgrade(b, c),
        "c_d": upgrade(c, d),
    }
    votes_on(hypotheses["out_of_mine"], "wiser", "less_wise", "less_wise")
    votes_on(hypotheses["a_c"], "wiser")
    votes_on(hypotheses["b_c"], "not_wiser", "unsure")
    return {"context": context, "mine": mine, **hypotheses}


@pytest.fixture
def me(participant) -> Client:
    return client_for(participant)


def my_draw(participant) -> list[Impression]:
    return list(participant.impressions.order_by("position"))


# --- The draw ---


def test_the_draw_takes_the_fewest_voted_first_and_never_my_value_as_target(
    participant, graph, settings
):
    settings.MGE_VOTES_PER_DRAW = 3

    draw = services.votes_draw(participant=participant, rng=random.Random(1))

    assert [i.hypothesis_id for i in draw] == [graph["c_d"].pk, graph["a_c"].pk, graph["b_c"].pk]
    assert [i.position for i in draw] == [0, 1, 2]
    assert len({i.draw_id for i in draw}) == 1 and draw[0].draw_id
    assert graph["into_mine"].pk not in {i.hypothesis_id for i in draw}


def test_the_draw_has_at_least_three_even_when_set_lower(participant, graph, settings):
    settings.MGE_VOTES_PER_DRAW = 1

    draw = services.votes_draw(participant=participant)

    assert len(draw) == 3


def test_a_reload_returns_the_same_draw(me, participant, graph):
    first = me.get(url("vote", participant.study)).content.decode()
    second = me.get(url("vote", participant.study)).content.decode()
    again = services.votes_draw(participant=participant)

    draw = my_draw(participant)
    assert len(draw) == 4  # every hypothesis but the one into my own value
    assert [i.pk for i in again] == [i.pk for i in draw]
    shown = f'name="hypothesis" value="{draw[0].hypothesis_id}"'
    assert shown in first and shown in second
    assert "Comparison 1 of 4" in first


def test_a_finished_draw_leads_to_results_and_a_new_draw_holds_only_unseen(
    me, participant, graph, settings
):
    settings.MGE_VOTES_PER_DRAW = 3
    draw = services.votes_draw(participant=participant)
    for n, impression in enumerate(draw):
        me.post(url("vote", participant.study), vote_data(impression, client_id=f"c{n}"))

    response = me.get(url("vote", participant.study))
    fresh = services.votes_draw(participant=participant)

    assert response["Location"] == url("results", participant.study)
    assert [i.hypothesis_id for i in fresh] == [graph["out_of_mine"].pk]


def test_no_hypotheses_leads_to_the_thank_you_page(me, participant, my_card):
    response = me.get(url("vote", participant.study))

    assert response["Location"] == url("done", participant.study)
    assert not Impression.objects.exists()


def test_voting_needs_a_confirmed_card(me, participant, question):
    services.interview_start(participant=participant, question=question)

    assert me.get(url("vote", participant.study))["Location"] == url("start", participant.study)
    assert me.get(url("results", participant.study))["Location"] == url("start", participant.study)
    assert Client().get(url("vote", participant.study))["Location"] == url(
        "landing", participant.study
    )


# --- Votes ---


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("wiser", "B is wiser"),
        ("not_wiser", "B is not wiser"),
        ("less_wise", "B is less wise"),
        ("unsure", "I’m not sure"),
    ],
)
def test_each_of_the_four_answers_is_stored(answer, label, me, participant, graph):
    page = me.get(url("vote", participant.study)).content.decode()
    first = my_draw(participant)[0]

    me.post(url("vote", participant.study), {**vote_data(first, answer), "reason": "Because."})

    assert f'value="{answer}"' in page and label in page
    vote = WisdomVote.objects.get(participant=participant)
    assert (vote.hypothesis_id, vote.answer, vote.reason) == (
        first.hypothesis_id,
        answer,
        "Because.",
    )


def test_a_vote_without_an_answer_is_asked_again(me, participant, graph):
    me.get(url("vote", participant.study))
    data = {**vote_data(my_draw(participant)[0]), "answer": ""}

    response = me.post(url("vote", participant.study), data)

    assert response.status_code == 400
    assert "Please choose one of the four answers." in response.content.decode()
    assert not participant.votes.exists()


def test_a_double_submit_a_replay_and_a_second_tab_make_one_vote(me, participant, graph):
    me.get(url("vote", participant.study))
    first = my_draw(participant)[0]
    other_tab = client_for(participant)

    me.post(url("vote", participant.study), vote_data(first, "wiser", "c-1"))
    me.post(url("vote", participant.study), vote_data(first, "wiser", "c-1"))
    replay = me.post(url("vote", participant.study), vote_data(first, "wiser", "c-1"), follow=True)
    tab = other_tab.post(
        url("vote", participant.study), vote_data(first, "less_wise", "c-2"), follow=True
    )

    vote = WisdomVote.objects.get(participant=participant)
    assert (vote.answer, vote.client_id) == ("wiser", "c-1")
    assert "already answered" not in replay.content.decode()
    assert "You already answered that comparison; your first answer counts." in (
        tab.content.decode()
    )
    assert "Comparison 2 of 4" in tab.content.decode()


def test_the_service_returns_the_stored_vote_on_a_replay(participant, graph):
    first = services.votes_draw(participant=participant)[0]
    args = {"participant": participant, "hypothesis_id": first.hypothesis_id, "reason": ""}

    vote, created = services.vote_record(**args, answer="unsure", client_id="x")
    again, created_again = services.vote_record(**args, answer="wiser", client_id="y")

    assert created and not created_again
    assert again.pk == vote.pk and again.answer == "unsure"


def test_a_hypothesis_not_shown_cannot_be_voted_on(me, participant, graph):
    me.get(url("vote", participant.study))
    hidden = graph["into_mine"]

    response = me.post(
        url("vote", participant.study),
        {"hypothesis": hidden.pk, "answer": "wiser", "client_id": "c-9"},
        follow=True,
    )

    assert "You can only answer the comparisons that were shown to you." in (
        response.content.decode()
    )
    assert not participant.votes.exists()


def test_another_participant_cannot_vote_on_my_draw(
    me, participant, other_participant, question, graph
):
    me.get(url("vote", participant.study))
    confirmed_card(other_participant, question)
    mine = my_draw(participant)[0]

    response = client_for(other_participant).post(
        url("vote", participant.study), vote_data(mine), follow=True
    )

    assert "You can only answer the comparisons that were shown to you." in (
        response.content.decode()
    )
    assert not WisdomVote.objects.filter(participant=other_participant).exists()


def test_votes_are_rate_limited_with_a_clear_message(me, participant, graph, settings):
    settings.MGE_VOTE_RATE_PER_MINUTE = 1
    me.get(url("vote", participant.study))
    first, second = my_draw(participant)[:2]
    me.post(url("vote", participant.study), vote_data(first, client_id="c-1"))

    response = me.post(url("vote", participant.study), vote_data(second, client_id="c-2"))

    assert response.status_code == 429
    assert "Please wait a minute, then send again." in response.content.decode()
    assert 'value="c-2"' in response.content.decode()
    assert WisdomVote.objects.filter(participant=participant).count() == 1


def test_a_vote_without_a_csrf_token_is_rejected(participant, graph):
    strict = Client(enforce_csrf_checks=True)
    strict.cookies[settings.MGE_PARTICIPANT_COOKIE] = participant_cookie(participant)
    strict.get(url("vote", participant.study))

    response = strict.post(url("vote", participant.study), vote_data(my_draw(participant)[0]))

    assert response.status_code == 403
    assert not participant.votes.exists()


def test_the_vote_page_shows_the_story_both_values_and_the_question(me, participant, graph):
    page = me.get(url("vote", participant.study)).content.decode()

    hypothesis = my_draw(participant)[0].hypothesis
    assert "I used to see it one way; then I saw more." in page
    assert f'id="value-A-title">{hypothesis.from_value.title}</h3>' in page
    assert f'id="value-B-title">{hypothesis.to_value.title}</h3>' in page
    assert "Value A" in page and "Value B" in page
    assert CONTEXT in page
    assert "Is B wiser than A for this context?" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'name="client_id"' in page


def test_every_render_carries_a_new_client_id(me, participant, graph):
    first = me.get(url("vote", participant.study)).context["form"]["client_id"].value()
    second = me.get(url("vote", participant.study)).context["form"]["client_id"].value()

    assert first and second and first != second


def test_the_vote_page_costs_a_fixed_number_of_queries(
    me, participant, graph, django_assert_max_num_queries
):
    me.get(url("vote", participant.study))

    with django_assert_max_num_queries(4):
        response = me.get(url("vote", participant.study))

    assert "Comparison 1 of 4" in response.content.decode()


def test_the_results_page_costs_a_fixed_number_of_queries(
    me, participant, graph, django_assert_max_num_queries
):
    graph_build(study=participant.study, config=FAST)

    with django_assert_max_num_queries(9):
        response = me.get(url("results", participant.study))

    assert "How it fares so far" in response.content.decode()
    assert "Its place in the moral graph" in response.content.decode()


# --- Escaping ---


def test_script_in_stories_cards_and_values_is_escaped(me, study, participant, question):
    card = confirmed_card(participant, question, title=XSS, description=XSS, policies=[XSS] * 3)
    context = card.context
    mine, other = value(study, XSS, description=XSS, policies=[XSS]), value(study, "Other")
    CardLink.objects.create(card=card, value=mine, method=CardLink.Method.NEW)
    hypothesis = UpgradeHypothesis.objects.create(
        study=study, context=context, from_value=mine, to_value=other, story=XSS
    )
    votes_on(hypothesis, "wiser")
    Context.objects.filter(pk=context.pk).update(name=XSS)

    vote_page = me.get(url("vote", study))
    results = me.get(url("results", study))

    for response in (vote_page, results):
        html = response.content.decode()
        assert "<script>alert" not in html
        assert ESCAPED in html


# --- Results and feedback ---


def test_results_show_my_card_its_value_and_how_it_fares(me, participant, graph):
    page = me.get(url("results", participant.study)).content.decode()

    assert "Where did your input go?" in page
    assert "Grounded Personal Discernment" in page
    assert "In the moral graph it is the value “Mine”" in page
    assert "So far yours is the only card behind it." in page
    assert "Other participants cast 3 votes on comparisons with this value." in page
    assert "In 1 comparison, most of them found it the wiser value." in page
    assert "most found the other value wiser" not in page
    assert "Compared with “Beta”: 2 of 3 said yours is wiser; 1 said “Beta” is." in page


def test_my_own_votes_are_not_counted_as_others_judgement(me, participant, graph):
    Impression.objects.create(participant=participant, hypothesis=graph["into_mine"])
    services.vote_record(
        participant=participant, hypothesis_id=graph["into_mine"].pk, answer="wiser"
    )

    page = me.get(url("results", participant.study)).content.decode()

    assert "Other participants cast 3 votes" in page
    assert "You answered 1 comparison." in page


def upheld(study, context, source, target, voters: int = 4) -> UpgradeHypothesis:
    hypothesis = UpgradeHypothesis.objects.create(
        study=study, context=context, from_value=source, to_value=target
    )
    votes_on(hypothesis, *["wiser"] * voters)
    return hypothesis


@pytest.fixture
def ranked(study, my_card) -> dict:
    """Mine, found wiser than Alpha and Beta and less wise than Top, in my card's context."""
    context = my_card.context
    mine, alpha, beta, top = (value(study, t) for t in ("Mine", "Alpha", "Beta", "Top"))
    CardLink.objects.create(card=my_card, value=mine, method=CardLink.Method.NEW)
    upheld(study, context, alpha, mine, voters=5)
    upheld(study, context, beta, mine)
    upheld(study, context, mine, top)
    return {"context": context, "mine": mine, "top": top}


def built_on(build: GraphBuild) -> str:
    return dateformat.format(timezone.localtime(build.built_at), "j F Y")


def test_results_place_my_value_in_the_latest_graph(me, participant, ranked):
    build = graph_build(study=participant.study, config=FAST)

    page = me.get(url("results", participant.study)).content.decode()

    assert (
        f"In the moral graph built on {built_on(build)}, in the context “{CONTEXT}”, "
        "your value ranks 2nd of 4." in page
    )
    assert "People found it wiser than “Alpha”, “Beta”." in page
    assert "They found “Top” wiser than it." in page
    assert "It is the top value" not in page
    assert page.index("Its place in the moral graph") < page.index("How it fares so far")


def test_results_say_when_my_value_is_the_top_one_but_held_back(me, participant, ranked):
    UpgradeHypothesis.objects.filter(to_value=ranked["top"]).delete()
    build = graph_build(study=participant.study, config=FAST)
    assert build.summary["contexts"][str(ranked["context"].pk)]["winner"]["reasons"]

    page = me.get(url("results", participant.study)).content.decode()

    assert "your value ranks 1st of 3." in page
    assert "It is the top value in this context, but that result is held back" in page
    assert "wiser than it" not in page


def test_results_use_the_newest_build_only(me, participant, ranked):
    graph_build(study=participant.study, config=FAST)
    upheld(participant.study, ranked["context"], ranked["top"], value(participant.study, "Peak"))
    newest = graph_build(study=participant.study, config=FAST)

    page = me.get(url("results", participant.study)).content.decode()

    assert f"In the moral graph built on {built_on(newest)}" in page
    assert "your value ranks 3rd of 5." in page


def section_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "graphbuildsection" in q["sql"]]


def test_the_results_page_reads_only_my_contexts_section_of_the_graph(me, participant, ranked):
    graph_build(study=participant.study, config=FAST)

    with CaptureQueriesContext(connection) as queries:
        page = me.get(url("results", participant.study)).content.decode()

    (read,) = section_reads(queries)
    assert f"'context:{ranked['context'].pk}'" in read and "'global'" not in read
    assert "your value ranks 2nd of 4." in page


def test_placements_cost_five_queries_however_many_cards(
    study, participant, ranked, django_assert_max_num_queries
):
    waiting = Question.objects.create(study=study, title="waiting", text="How long do I wait?")
    second = confirmed_card(participant, waiting, title="Second", context="When the user waits")
    CardLink.objects.create(card=second, value=ranked["top"], method=CardLink.Method.NEW)
    graph_build(study=participant.study, config=FAST)

    with django_assert_max_num_queries(5) as queries:
        placements = participant_placements(participant)

    (read,) = section_reads(queries)
    assert f"'context:{ranked['context'].pk}'" in read and "'global'" in read

    positions = {placement.card.title: placement.position for placement in placements}
    mine, top = positions[CARD["title"]], positions["Second"]
    assert (mine.rank, mine.ranked, mine.overall) == (2, 4, False)
    assert (top.rank, top.overall, top.is_winner) == (1, True, False)


def test_results_say_plainly_when_no_graph_was_built(me, participant, ranked):
    page = me.get(url("results", participant.study)).content.decode()

    assert "The moral graph has not been built yet" in page
    assert "your value ranks" not in page


def test_results_say_plainly_when_my_value_is_not_ranked_yet(me, study, participant, my_card):
    CardLink.objects.create(card=my_card, value=value(study, "Mine"), method=CardLink.Method.NEW)
    upheld(study, my_card.context, value(study, "Alpha"), value(study, "Beta"))
    build = graph_build(study=study, config=FAST)

    page = me.get(url("results", participant.study)).content.decode()

    assert f"In the moral graph built on {built_on(build)}, your value is not ranked yet" in page


def test_titles_in_the_graph_paragraph_are_escaped(me, study, participant, ranked):
    Context.objects.filter(pk=ranked["context"].pk).update(name=XSS)
    CanonicalValue.objects.filter(title="Alpha").update(title=XSS)
    graph_build(study=study, config=FAST)

    html = me.get(url("results", study)).content.decode()

    assert "<script>alert" not in html
    assert f"in the context “{ESCAPED}”" in html
    assert f"People found it wiser than “{ESCAPED}”, “Beta”." in html


def test_results_say_when_the_card_is_not_placed_yet(me, participant, my_card):
    page = me.get(url("results", participant.study)).content.decode()

    assert "Grounded Personal Discernment" in page
    assert "hasn’t been placed in the moral graph yet" in page


def test_results_count_the_people_behind_a_value(me, participant, other_participant, graph):
    theirs = confirmed_card(other_participant, participant.study.questions.get())
    CardLink.objects.create(card=theirs, value=graph["mine"], method=CardLink.Method.EMBEDDING)

    page = me.get(url("results", participant.study)).content.decode()

    assert "So far 2 people, you included, wrote cards behind this value." in page


def test_feedback_is_saved_and_leads_to_the_thank_you_page(me, participant, graph):
    answers = {"represented": "4", "process_fair": "5", "graph_fair": "3", "comment": "Good."}

    response = me.post(url("results", participant.study), answers)

    assert response["Location"] == url("done", participant.study)
    participant.refresh_from_db()
    feedback = participant.feedback
    assert {k: feedback[k] for k in answers} == {
        "represented": 4,
        "process_fair": 5,
        "graph_fair": 3,
        "comment": "Good.",
    }
    assert feedback["submitted_at"]


def test_feedback_needs_the_three_ratings_but_can_be_skipped(me, participant, graph):
    incomplete = me.post(url("results", participant.study), {"represented": "4"})
    skipped = me.post(url("results", participant.study), {"skip": "1"})

    assert "Please choose a number from 1 to 5." in incomplete.content.decode()
    assert skipped["Location"] == url("done", participant.study)
    participant.refresh_from_db()
    assert participant.feedback == {}


# --- The whole journey ---


def test_card_confirm_votes_results_and_done_in_one_journey(
    me, study, participant, question, settings
):
    settings.MGE_VOTES_PER_DRAW = 3
    interview = services.interview_start(participant=participant, question=question)
    for n in range(study.completion_min_messages):
        services.interview_message_add(interview=interview, client_id=f"m{n}", content="Yes.")
    services.card_draft_save(interview=interview, **CARD)
    context = Context.objects.get(name=CONTEXT)
    values = [value(study, t) for t in ("One", "Two", "Three", "Four")]
    for source, target in zip(values, values[1:], strict=False):
        UpgradeHypothesis.objects.create(
            study=study, context=context, from_value=source, to_value=target, story="Story."
        )
    card_form = {**CARD, "policies": "\n".join(CARD["policies"]), "confirm": "1"}

    confirmed = me.post(reverse("elicitation:card", kwargs={"pk": interview.pk}), card_form)
    pages = [me.get(confirmed["Location"])]
    for _ in range(5):
        if "Comparison" not in pages[-1].content.decode():
            break
        hypothesis = pages[-1].context["hypothesis"]
        data = {"hypothesis": hypothesis.pk, "answer": "wiser", "client_id": f"c{hypothesis.pk}"}
        pages.append(me.post(url("vote", study), data, follow=True))
    answers = {"represented": "5", "process_fair": "4", "graph_fair": "4"}
    done = me.post(url("results", study), answers, follow=True)

    assert confirmed["Location"] == url("vote", study)
    assert "Comparison 1 of 3" in pages[0].content.decode()
    assert "Comparison 3 of 3" in pages[2].content.decode()
    assert pages[-1].redirect_chain[-1][0] == url("results", study)
    assert "Where did your input go?" in pages[-1].content.decode()
    assert WisdomVote.objects.filter(participant=participant).count() == 3
    assert done.redirect_chain[-1][0] == url("done", study)
    assert "Thank you!" in done.content.decode()
    participant.refresh_from_db()
    assert participant.feedback["represented"] == 5 and participant.completed_at is not None


def test_a_returning_participant_with_a_card_is_sent_to_the_votes(me, study, graph):
    response = me.get(url("landing", study))

    assert response["Location"] == url("vote", study)
