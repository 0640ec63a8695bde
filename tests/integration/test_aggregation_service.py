"""The study graph service on MAI's imported DFT study.

Expectations come from the raw ``edge.json`` with plain ``json`` and ``collections``,
following SPEC section 4 in words (the counting helpers are the ones the core's own MAI test
derives independently); our ids are found through the import's external ids.
"""

import json
import math
import random
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import pytest

from elicitation.models import Study, WisdomVote
from moralgraph import loaders
from moralgraph.aggregation import study_graph
from moralgraph.core import Config, dumps
from moralgraph.core.report import FLOAT_DIGITS
from moralgraph.importers.mai_dft import import_directory
from tests.integration.test_core_mai_data import FIELDS, count_pairs, reference_pagerank, summary

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mai-dft"
pytestmark = pytest.mark.skipif(
    not (DATA / "edge.json").exists(), reason=f"MAI DFT data not found at {DATA}"
)
FAST = Config(bootstrap_samples=20, split_half_repeats=4)


@cache
def raw(name):
    return json.loads((DATA / name).read_text())


@pytest.fixture
def study(db):
    import_directory(DATA, study_slug="mai-dft")
    return Study.objects.get(slug="mai-dft")


@pytest.fixture
def ours(study):
    """MAI's canonical ids and context names -> our CanonicalValue and Context ids."""
    values = {
        int(ext[4:]): pk for pk, ext in study.canonical_values.values_list("id", "external_id")
    }
    contexts = {name: pk for pk, name in study.contexts.values_list("id", "name")}
    return values, contexts


def expected_pairs(ours, *, by_context):
    values, contexts = ours

    def key(edge, a, b):
        pair = (values[a], values[b])
        return (contexts[edge["contextId"]], *pair) if by_context else pair

    return count_pairs(raw("edge.json"), key)


def edge_rows(rows, context=None):
    prefix = () if context is None else (context,)
    return {(*prefix, row["sourceValueId"], row["wiserValueId"]): row for row in rows}


def test_per_context_edges_count_votes_as_mai_does(study, ours):
    expected = expected_pairs(ours, by_context=True)
    graph = study_graph(study, FAST)
    got = {}
    for context, section in graph["contexts"].items():
        got.update(edge_rows(section["edges"], context))
    assert set(got) == set(expected)
    for key, counts in expected.items():
        assert [got[key]["counts"][f] for f in FIELDS] == [counts[f] for f in FIELDS], key
    kept = {key for key, counts in expected.items() if summary(counts, five_fields=False)[2]}
    assert {key for key, row in got.items() if row["kept"]} == kept
    assert kept


def test_global_edges_follow_mais_five_field_rule_in_compatibility_mode(study, ours):
    expected = expected_pairs(ours, by_context=False)
    got = edge_rows(study_graph(study, Config.mai(bootstrap_samples=20))["global"]["edges"])
    assert set(got) == set(expected)
    for pair, counts in expected.items():
        likelihood, entropy, kept = summary(counts, five_fields=True)
        written = 10**-FLOAT_DIGITS  # edge rows are made rounded, as they are written
        assert got[pair]["summary"]["wiserLikelihood"] == pytest.approx(likelihood, abs=written)
        assert got[pair]["summary"]["entropy"] == pytest.approx(entropy, abs=written)
        assert got[pair]["kept"] == kept, pair


def test_top_value_per_context_is_the_reference_pagerank_winner(study, ours):
    kept_edges = defaultdict(list)
    for (context, a, b), counts in expected_pairs(ours, by_context=True).items():
        likelihood, _, kept = summary(counts, five_fields=False)
        if kept:
            kept_edges[context].append((a, b, likelihood))
    graph = study_graph(study, FAST)
    ranked = {c: s["ranking"] for c, s in graph["contexts"].items() if s["ranking"]}
    assert set(ranked) == set(kept_edges)
    for context, edges in kept_edges.items():
        reference = reference_pagerank(edges)
        best = max(reference.values())
        tops = {v for v, score in reference.items() if math.isclose(score, best, rel_tol=1e-9)}
        assert ranked[context][0]["value"] in tops, context
        assert graph["contexts"][context]["winner"]["value"] == ranked[context][0]["value"]


def test_counts_labels_and_bridging_groups_come_from_the_study(study, ours):
    edges = raw("edge.json")
    graph = study_graph(study, FAST)
    answers = Counter(e["relationship"] for e in edges)
    assert graph["counts"]["votes"] == len(edges)
    assert graph["counts"]["raters"] == len({e["userId"] for e in edges})
    assert graph["counts"]["answers"]["wiser"] == answers["upgrade"]
    values, contexts = ours
    names = {pk: name for name, pk in contexts.items()}
    assert graph["labels"]["contexts"] == {c: names[c] for c in graph["contexts"]}
    voters = {e["userId"] for e in edges}
    affiliation = {
        d["userId"]: d["usPoliticalAffiliation"]
        for d in raw("demographic.json")
        if d["userId"] in voters and d["usPoliticalAffiliation"] not in (None, "DATA_EXPIRED")
    }
    assert graph["bridging_groups"]["raters_with_group"] == len(affiliation)
    assert graph["bridging_groups"]["groups"] == sorted(set(affiliation.values()))
    assert all("bridging" in row for row in graph["global"]["edges"])


def test_the_graph_is_byte_identical_across_runs_and_vote_insertion_orders(study):
    first = dumps(study_graph(study, FAST))
    assert dumps(study_graph(study, FAST)) == first
    votes = WisdomVote.objects.filter(hypothesis__study=study)
    rows = list(votes.values("participant_id", "hypothesis_id", "answer", "reason"))
    random.Random(7).shuffle(rows)
    votes.delete()
    WisdomVote.objects.bulk_create(WisdomVote(**row) for row in rows)
    assert dumps(study_graph(study, FAST)) == first


def test_loaders_list_values_with_card_counts_and_contexts_with_questions(study, ours):
    values, contexts = ours
    cards = Counter(c["canonicalCardId"] for c in raw("valuesCard.json") if c["canonicalCardId"])
    records = loaders.study_values(study)
    assert [r.id for r in records] == sorted(values.values())
    assert {r.id: r.card_count for r in records} == {pk: cards[mai] for mai, pk in values.items()}
    questions = dict(study.questions.values_list("title", "id"))
    title = {c["id"]: c["title"] for c in raw("case.json")}
    linked = defaultdict(set)
    for row in raw("contextsOnCases.json"):
        linked[contexts[row["contextId"]]].add(questions[title[row["caseId"]]])
    assert {r.id: set(r.question_ids) for r in loaders.study_contexts(study)} == {
        pk: linked[pk] for pk in contexts.values()
    }


def test_vote_arrays_use_hypothesis_values_and_participant_raters(study, ours):
    votes, labels = loaders.study_vote_arrays(study)
    values, contexts = ours
    used = {values[e[k]] for e in raw("edge.json") for k in ("fromId", "toId")}
    assert set(votes.values) == used
    assert set(votes.contexts) == {contexts[e["contextId"]] for e in raw("edge.json")}
    participants = set(study.participants.values_list("id", flat=True))
    assert {int(r) for r in votes.raters} <= participants
    assert set(labels.values) == used
    answered = {
        f"mai:{d['userId']}": d["usPoliticalAffiliation"]
        for d in raw("demographic.json")
        if d["usPoliticalAffiliation"] not in (None, "", "DATA_EXPIRED")
    }
    external = dict(study.participants.values_list("id", "external_id"))
    groups = loaders.study_rater_groups(study)
    assert {external[int(r)]: group for r, group in groups.items()} == answered
