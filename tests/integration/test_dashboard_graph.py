"""The dashboard's graph view: staff only, drawn from the latest graph build, card text escaped,
supporters pseudonymous, and a bounded number of queries however big the graph."""

import json
import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from dashboard.models import Job
from elicitation import services
from elicitation.models import Context, Participant, Study, ValuesCard, WisdomVote
from moralgraph.core import Config
from moralgraph.models import CanonicalValue, CardLink, GraphBuild, UpgradeHypothesis
from moralgraph.services import graph_build

FAST = Config(bootstrap_samples=20, split_half_repeats=4)
XSS = "<script>alert(1)</script>"


def supported_value(context: Context, title: str, authors: list[Participant]) -> CanonicalValue:
    """A canonical value gathering one confirmed card per author (and one draft, ignored)."""
    value = CanonicalValue.objects.create(
        study=context.study,
        title=title,
        description=f"What {title} attends to.",
        policies=[f"MOMENTS of {title.lower()}", "CHOICES that feel alive"],
    )
    for number, author in enumerate(authors):
        linked_card(value, context, author, f"{title} card {number}", ValuesCard.Status.CONFIRMED)
    linked_card(value, context, authors[0], f"{title} draft", ValuesCard.Status.DRAFT)
    return value


def linked_card(value, context, author, title, status) -> None:
    card = ValuesCard.objects.create(
        study=context.study,
        participant=author,
        title=title,
        description="d",
        context=context,
        status=status,
    )
    CardLink.objects.create(card=card, value=value, method=CardLink.Method.NEW)


def recruited(study: Study, number: int) -> Participant:
    participant = services.participant_start(study=study)
    participant.prolific_pid = f"PROLIFIC{number:04d}SECRET"
    participant.save()
    return services.participant_consent(participant=participant, agreed=True)


def vote_all(voters, hypothesis, *answers) -> None:
    for voter, answer in zip(voters, answers, strict=False):
        WisdomVote.objects.create(participant=voter, hypothesis=hypothesis, answer=answer)


def built_graph(study: Study) -> GraphBuild:
    return graph_build(study=study, config=FAST)


@pytest.fixture
def graph(study):
    """In grief: Facts -> Care (titled with a script tag) -> Depth, upheld by five voters;
    in doubt: Facts -> Depth, undecided. Three recruited authors hold the values' cards."""
    authors = [recruited(study, number) for number in range(3)]
    grief = Context.objects.create(study=study, name="When the user is grieving")
    doubt = Context.objects.create(study=study, name="When the user doubts themselves")
    facts = supported_value(grief, "Plain facts", authors[:1])
    care = supported_value(grief, XSS, authors[:2])
    depth = supported_value(grief, "Depth of feeling", authors)
    voters = [recruited(study, 10 + number) for number in range(5)]
    hypothesis = UpgradeHypothesis.objects.create
    to_care = hypothesis(study=study, context=grief, from_value=facts, to_value=care)
    to_depth = hypothesis(study=study, context=grief, from_value=care, to_value=depth)
    doubtful = hypothesis(study=study, context=doubt, from_value=facts, to_value=depth)
    vote_all(voters, to_care, "wiser", "wiser", "wiser", "wiser", "unsure")
    vote_all(voters, to_depth, "wiser", "wiser", "wiser", "not_wiser", "less_wise")
    vote_all(voters, doubtful, "not_wiser", "unsure")
    build = built_graph(study)
    return {
        "values": (facts, care, depth),
        "contexts": (grief, doubt),
        "authors": authors,
        "voters": voters,
        "build": build,
    }


@pytest.fixture
def other_study(db):
    other = Study.objects.create(slug="other-study", title="Another study")
    context = Context.objects.create(study=other, name="When elsewhere")
    value = supported_value(context, "Elsewhere", [recruited(other, 99)])
    return {"study": other, "context": context, "value": value}


def page_url(study, **query) -> str:
    url = reverse("dashboard:graph", args=[study.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def data_url(study, context) -> str:
    return reverse("dashboard:graph_data", args=[study.slug, context.pk])


def value_url(study, value, context=None) -> str:
    url = reverse("dashboard:graph_value", args=[study.slug, value.pk])
    return f"{url}?context={context.pk}" if context else url


def every_url(study, graph) -> list[str]:
    grief = graph["contexts"][0]
    return [page_url(study), data_url(study, grief), value_url(study, graph["values"][0], grief)]


def test_anonymous_visitors_are_sent_to_the_login_page(client, study, graph):
    for url in every_url(study, graph):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(settings.LOGIN_URL)


def test_participants_and_non_staff_users_are_sent_to_the_login_page(
    client, study, graph, django_user_model
):
    user = django_user_model.objects.create_user(username="curious", password="x-long-password")
    client.force_login(user)
    for url in every_url(study, graph):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(settings.LOGIN_URL)


def test_without_an_aggregation_the_page_says_no_graph_yet_and_points_to_jobs(staff, study):
    Job.objects.create(study=study, kind=Job.Kind.AGGREGATE, state=Job.State.RUNNING)
    response = staff.get(page_url(study))
    assert response.status_code == 200
    page = response.content.decode()
    assert "No graph yet" in page
    assert 'id="graph"' not in page and "dashboard-graph.js" not in page
    try:
        jobs = reverse("dashboard:jobs", args=[study.slug])
    except NoReverseMatch:  # the jobs page is another module's; the link appears once it exists
        return
    assert f'href="{jobs}"' in page


def test_without_an_aggregation_the_json_endpoint_is_not_found(staff, study):
    context = Context.objects.create(study=study, name="When the user is grieving")
    assert staff.get(data_url(study, context)).status_code == 404


def test_the_page_picks_the_first_context_and_lists_its_values_by_rank(staff, study, graph):
    grief, doubt = graph["contexts"]
    facts, care, depth = graph["values"]
    page = staff.get(page_url(study)).content.decode()
    built_at = graph["build"].built_at
    assert f"Built {built_at:%Y-%m-%d %H:%M} UTC from 12 votes by 5 raters." in page
    assert f'<option value="{doubt.pk}" selected>' in page
    assert f'<option value="{grief.pk}">When the user is grieving (3 values, 10 votes)' in page
    assert f'data-graph-url="{data_url(study, doubt)}"' in page
    assert f'data-context="{doubt.pk}"' in page
    assert "dashboard-graph.js" in page and "dashboard-graph.css" in page
    assert page.index("Depth of feeling") > page.index("</select>")


def test_choosing_a_context_by_query_shows_its_top_value(staff, study, graph):
    grief = graph["contexts"][0]
    page = staff.get(page_url(study, context=grief.pk)).content.decode()
    assert f'<option value="{grief.pk}" selected>' in page
    assert re.search(r"Top value: <strong>Depth of feeling</strong>", page)
    ranking = page[page.index("<h2>Ranking</h2>") :]
    assert ranking.index("Depth of feeling") < ranking.index("&lt;script&gt;")
    assert ranking.index("&lt;script&gt;") < ranking.index("Plain facts")


@pytest.mark.parametrize("context", ["999999", "grief"])
def test_an_unknown_context_in_the_query_is_not_found(staff, study, graph, context):
    assert staff.get(page_url(study, context=context)).status_code == 404


def test_a_script_title_is_escaped_in_the_page_and_a_plain_string_in_json(staff, study, graph):
    grief = graph["contexts"][0]
    care = graph["values"][1]
    page = staff.get(page_url(study, context=grief.pk)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert XSS not in page
    for url in (data_url(study, grief), value_url(study, care, grief)):
        response = staff.get(url)
        assert response["Content-Type"] == "application/json"
        assert XSS in json.dumps(response.json())
    nodes = staff.get(data_url(study, grief)).json()["nodes"]
    assert XSS in [node["title"] for node in nodes]
    assert staff.get(value_url(study, care)).json()["title"] == XSS


def test_the_context_json_has_the_studys_values_and_vote_counts(staff, study, graph):
    grief = graph["contexts"][0]
    facts, care, depth = graph["values"]
    data = staff.get(data_url(study, grief)).json()
    assert data["context"] == {"id": grief.pk, "name": "When the user is grieving"}
    nodes = {node["id"]: node for node in data["nodes"]}
    assert [node["id"] for node in data["nodes"]] == [depth.pk, care.pk, facts.pk]
    assert [nodes[v.pk]["cards"] for v in (facts, care, depth)] == [1, 2, 3]
    assert nodes[depth.pk]["winner"] and not nodes[facts.pk]["winner"]
    assert nodes[depth.pk]["radius"] > nodes[care.pk]["radius"] > nodes[facts.pk]["radius"]
    edges = {(edge["source"], edge["target"]): edge for edge in data["edges"]}
    assert set(edges) == {(facts.pk, care.pk), (care.pk, depth.pk)}
    to_depth = edges[care.pk, depth.pk]
    counts = [to_depth[k] for k in ("wiser", "not_wiser", "less_wise", "unsure", "votes")]
    assert counts == [3, 1, 1, 0, 5]
    assert to_depth["kept"] is True


def test_a_context_of_another_study_is_not_found(staff, study, graph, other_study):
    assert staff.get(data_url(study, other_study["context"])).status_code == 404


def test_a_context_the_graph_does_not_know_is_not_found(staff, study, graph):
    late = Context.objects.create(study=study, name="When added after the graph was built")
    assert staff.get(data_url(study, late)).status_code == 404


def test_a_value_shows_its_card_supporters_and_how_voters_judged_it(staff, study, graph):
    grief = graph["contexts"][0]
    depth = graph["values"][2]
    data = staff.get(value_url(study, depth, grief)).json()
    assert data["title"] == "Depth of feeling"
    assert data["description"] == "What Depth of feeling attends to."
    assert data["policies"] == ["MOMENTS of depth of feeling", "CHOICES that feel alive"]
    supporters = data["supporters"]
    assert [card["title"] for card in supporters["cards"]] == [
        "Depth of feeling card 0",
        "Depth of feeling card 1",
        "Depth of feeling card 2",
    ]
    assert supporters["card_count"] == 3 and supporters["participants"] == 3
    assert all(re.fullmatch(r"[0-9a-f]{8}", card["participant"]) for card in supporters["cards"])
    assert len({card["participant"] for card in supporters["cards"]}) == 3
    assert data["votes_as_wiser"] == {
        "context": grief.pk,
        "wiser": 3,
        "not_wiser": 1,
        "less_wise": 1,
        "unsure": 0,
        "total": 5,
    }


def test_votes_as_wiser_span_every_context_when_none_is_named(staff, study, graph):
    depth = graph["values"][2]
    votes = staff.get(value_url(study, depth)).json()["votes_as_wiser"]
    assert (votes["context"], votes["total"], votes["not_wiser"]) == (None, 7, 2)


def test_the_same_author_gets_the_same_pseudonym_on_every_value(staff, study, graph):
    facts, care, depth = graph["values"]
    first = staff.get(value_url(study, facts)).json()["supporters"]["cards"][0]
    again = staff.get(value_url(study, depth)).json()["supporters"]["cards"][0]
    assert first["participant"] == again["participant"]


def test_supporters_never_reveal_participant_tokens_or_prolific_ids(staff, study, graph):
    body = "".join(
        staff.get(value_url(study, value, graph["contexts"][0])).content.decode()
        for value in graph["values"]
    )
    for author in graph["authors"]:
        assert author.token not in body
        assert author.prolific_pid not in body
        assert "SECRET" not in body


def test_a_value_of_another_study_is_not_found(staff, study, graph, other_study):
    assert staff.get(value_url(study, other_study["value"])).status_code == 404
    assert staff.get(value_url(other_study["study"], graph["values"][0])).status_code == 404


def test_a_mangled_context_in_the_value_query_is_not_found(staff, study, graph):
    url = reverse("dashboard:graph_value", args=[study.slug, graph["values"][0].pk])
    assert staff.get(f"{url}?context=grief").status_code == 404


def grow(study, graph, extra: int) -> None:
    """`extra` more values in grief, each voted an upgrade of Depth, and a fresh graph."""
    grief = graph["contexts"][0]
    depth = graph["values"][2]
    for number in range(extra):
        value = supported_value(grief, f"Value {number}", graph["authors"][:2])
        hypothesis = UpgradeHypothesis.objects.create(
            study=study, context=grief, from_value=depth, to_value=value
        )
        vote_all(graph["voters"], hypothesis, "wiser", "wiser", "unsure")
    built_graph(study)


def test_the_context_json_and_page_each_read_one_section_of_the_newest_build(staff, study, graph):
    grief, doubt = graph["contexts"]
    staff.get(data_url(study, grief))  # the session and user are cached from here on

    with CaptureQueriesContext(connection) as json_queries:
        staff.get(data_url(study, grief))
    with CaptureQueriesContext(connection) as page_queries:
        staff.get(page_url(study, context=grief.pk))

    for queries in (json_queries, page_queries):
        (read,) = [q["sql"] for q in queries.captured_queries if "graphbuildsection" in q["sql"]]
        assert f"'context:{grief.pk}'" in read and f"'context:{doubt.pk}'" not in read


@pytest.mark.parametrize("extra", [0, 12])
def test_query_counts_do_not_grow_with_the_graph(
    staff, study, graph, extra, django_assert_max_num_queries
):
    grow(study, graph, extra)
    grief = graph["contexts"][0]
    with django_assert_max_num_queries(6):
        assert staff.get(page_url(study, context=grief.pk)).status_code == 200
    with django_assert_max_num_queries(5):
        data = staff.get(data_url(study, grief)).json()
    assert len(data["nodes"]) == 3 + extra
    with django_assert_max_num_queries(6):
        assert staff.get(value_url(study, graph["values"][2], grief)).status_code == 200


def test_the_page_lists_each_comparison_with_its_votes_for_readers_without_the_drawing(
    staff, study, graph
):
    grief = graph["contexts"][0]
    page = staff.get(page_url(study, context=grief.pk)).content.decode()
    table = page[page.index("<h2>Comparisons</h2>") :]
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>((?:\s*<td[^>]*>.*?</td>){5})", table)
    cells = [(less, wiser, re.findall(r">([^<]*)</td>", rest)) for less, wiser, rest in rows]
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert ("Plain facts", escaped, ["4", "0", "0", "1", "yes"]) in cells
    assert any(less == escaped and wiser == "Depth of feeling" for less, wiser, _ in cells)
    assert XSS not in page
