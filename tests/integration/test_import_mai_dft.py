"""Importing MAI's Democratic Fine-Tuning data as a study.

Every expectation on the real folder is derived here from the raw JSON with plain ``json``
and ``collections``; nothing is copied from the importer.
"""

import hashlib
import json
from collections import defaultdict
from datetime import datetime
from functools import cache
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from elicitation.models import (
    Context,
    Impression,
    Participant,
    Question,
    Study,
    ValuesCard,
    WisdomVote,
)
from moralgraph.importers.mai_dft import import_directory
from moralgraph.models import CanonicalValue, CardLink, UpgradeHypothesis

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mai-dft"
needs_data = pytest.mark.skipif(
    not (DATA / "edge.json").exists(), reason=f"MAI DFT data not found at {DATA}"
)
ANSWER = {"upgrade": "wiser", "no_upgrade": "not_wiser", "not_sure": "unsure"}


@cache
def raw(name):
    text = (DATA / name).read_text()
    return json.loads(text) if text.strip() else []


@pytest.fixture
def study(db):
    import_directory(DATA, study_slug="mai-dft")
    return Study.objects.get(slug="mai-dft")


def by_external_id(queryset):
    return dict(queryset.values_list("id", "external_id"))


@needs_data
def test_questions_and_contexts_come_from_cases_and_context_files(study):
    cases = raw("case.json")
    assert sorted(study.questions.values_list("title", "text")) == sorted(
        (c["title"], c["question"]) for c in cases
    )
    named = {c["id"] for c in raw("context.json")} | {e["contextId"] for e in raw("edge.json")}
    assert set(study.contexts.values_list("name", flat=True)) == named
    title = {c["id"]: c["title"] for c in cases}
    links = Context.questions.through.objects.filter(context__study=study)
    assert set(links.values_list("context__name", "question__title")) == {
        (row["contextId"], title[row["caseId"]]) for row in raw("contextsOnCases.json")
    }


@needs_data
def test_cards_keep_mais_text_and_link_to_their_canonical_value(study):
    cards = raw("valuesCard.json")
    assert study.cards.count() == len(cards)
    mine = {c.external_id: c for c in study.cards.all()}
    for card in cards:
        ours = mine[f"mai:{card['id']}"]
        assert ours.source == ValuesCard.Source.IMPORTED
        assert (ours.title, ours.description) == (card["title"], card["instructionsShort"])
        assert ours.policies == card["evaluationCriteria"]
        assert ours.history[0]["instructions_detailed"] == card["instructionsDetailed"]
        valid = card["quality"] != "invalid"
        assert ours.status == ("confirmed" if valid else "draft"), card["id"]
    links = CardLink.objects.filter(card__study=study, method="imported")
    assert set(links.values_list("card__external_id", "value__external_id")) == {
        (f"mai:{c['id']}", f"mai:{c['canonicalCardId']}") for c in cards if c["canonicalCardId"]
    }
    canonical = raw("canonicalValuesCard.json")
    assert set(study.canonical_values.values_list("external_id", "title", "description")) == {
        (f"mai:{c['id']}", c["title"], c["instructionsShort"]) for c in canonical
    }


@needs_data
def test_every_wisdom_vote_is_imported_on_a_hypothesis_of_its_own_edge(study):
    edges = raw("edge.json")
    latest = {(e["userId"], e["fromId"], e["toId"], e["contextId"]): e for e in edges}
    votes = WisdomVote.objects.filter(hypothesis__study=study)
    assert set(
        votes.values_list(
            "participant__external_id",
            "hypothesis__from_value__external_id",
            "hypothesis__to_value__external_id",
            "hypothesis__context__name",
            "answer",
            "reason",
        )
    ) == {
        (f"mai:{u}", f"mai:{a}", f"mai:{b}", c, ANSWER[e["relationship"]], e["comment"] or "")
        for (u, a, b, c), e in latest.items()
    }
    when = {
        (f"mai:{u}", f"mai:{a}", f"mai:{b}", c): e["createdAt"]
        for (u, a, b, c), e in latest.items()
    }
    keys = ("participant__external_id", "hypothesis__from_value__external_id")
    keys += ("hypothesis__to_value__external_id", "hypothesis__context__name", "created_at")
    assert {row[:4]: row[4] for row in votes.values_list(*keys)} == {
        key: datetime.fromisoformat(text) for key, text in when.items()
    }


@needs_data
def test_hypotheses_are_mais_plus_one_inactive_per_voted_edge_it_lacks(study):
    stored = {
        (h["fromId"], h["toId"], h["contextId"]): h["story"] for h in raw("edgeHypothesis.json")
    }
    stories = defaultdict(set)
    for e in raw("edge.json"):
        stories[(e["fromId"], e["toId"], e["contextId"])].add(e["story"])
    voted = set(stories)
    rows = UpgradeHypothesis.objects.filter(study=study, source="imported")
    assert rows.count() == len(set(stored) | voted)
    mine = {
        (int(a[4:]), int(b[4:]), c): (story, active)
        for a, b, c, story, active in rows.values_list(
            "from_value__external_id",
            "to_value__external_id",
            "context__name",
            "story",
            "is_active",
        )
    }
    assert all(mine[key] == (story, True) for key, story in stored.items())
    assert not any(active for key, (_, active) in mine.items() if key not in stored)
    # A voted edge whose votes only kept "OLD" as the story has an empty story.
    old_only = {key for key in voted - set(stored) if stories[key] == {"OLD"}}
    assert old_only and all(mine[key][0] == "" for key in old_only)


@needs_data
def test_participants_carry_demographics_without_expired_answers(study):
    users = {
        row["userId"]
        for name in ("edge.json", "impression.json", "vote.json", "demographic.json")
        for row in raw(name)
    }
    participants = Participant.objects.filter(study=study)
    assert set(participants.values_list("external_id", flat=True)) == {f"mai:{u}" for u in users}
    expected = {
        f"mai:{d['userId']}": {
            k: v for k, v in d.items() if k not in ("id", "userId") and v != "DATA_EXPIRED"
        }
        for d in raw("demographic.json")
    }
    mine = dict(participants.exclude(demographics={}).values_list("external_id", "demographics"))
    assert mine == expected
    assert not any("DATA_EXPIRED" in d.values() for d in mine.values())
    first = {}
    for row in raw("edge.json") + raw("impression.json") + raw("vote.json"):
        key = f"mai:{row['userId']}"
        first[key] = min(first.get(key, row["createdAt"]), row["createdAt"])
    assert dict(participants.values_list("external_id", "consented_at")) == {
        f"mai:{u}": datetime.fromisoformat(first[f"mai:{u}"]) if f"mai:{u}" in first else None
        for u in users
    }


@needs_data
def test_impressions_point_at_a_card_of_the_value_shown_in_draw_order(study):
    impressions = raw("impression.json")
    has_card = {c["canonicalCardId"] for c in raw("valuesCard.json")}
    shown = [i for i in impressions if i["valuesCardId"] in has_card]
    chosen = {(v["userId"], v["drawId"], v["valuesCardId"]) for v in raw("vote.json")}
    rows = Impression.objects.filter(participant__study=study)
    assert rows.count() == len(shown)
    assert rows.filter(chosen=True).count() == sum(
        (i["userId"], i["drawId"], i["valuesCardId"]) in chosen for i in shown
    )
    got = set(
        rows.values_list(
            "external_id",
            "participant__external_id",
            "draw_id",
            "card__canonical_link__value__external_id",
        )
    )
    assert got == {
        (f"mai:{i['id']}", f"mai:{i['userId']}", i["drawId"], f"mai:{i['valuesCardId']}")
        for i in shown
    }
    draws = {}
    for i in sorted(impressions, key=lambda i: i["id"]):  # the timestamps within a draw tie
        draws.setdefault(i["drawId"], []).append(i["id"])
    place = {f"mai:{pk}": ids.index(pk) for ids in draws.values() for pk in ids}
    assert all(place[key] == at for key, at in rows.values_list("external_id", "position"))


def study_checksum(study):
    """A digest of every row the import writes for ``study``."""
    querysets = [
        Study.objects.filter(pk=study.pk),
        Question.objects.filter(study=study),
        Context.objects.filter(study=study),
        Context.questions.through.objects.filter(context__study=study),
        Participant.objects.filter(study=study),
        ValuesCard.objects.filter(study=study),
        CanonicalValue.objects.filter(study=study),
        CardLink.objects.filter(card__study=study),
        UpgradeHypothesis.objects.filter(study=study),
        WisdomVote.objects.filter(hypothesis__study=study),
        Impression.objects.filter(participant__study=study),
    ]
    digest = hashlib.sha256()
    for queryset in querysets:
        digest.update(repr(list(queryset.order_by("pk").values())).encode())
    return digest.hexdigest()


@needs_data
def test_rerunning_the_import_changes_no_row(study):
    before = study_checksum(study)
    summary = import_directory(DATA, study_slug="mai-dft")
    assert study_checksum(study) == before
    assert sum(summary.created.values()) == 0
    assert summary.totals["wisdom votes"] == len(raw("edge.json"))


@needs_data
def test_the_command_prints_what_it_imported(db):
    out = StringIO()
    call_command("import_mai_dft", str(DATA), study="mai-dft", stdout=out)
    line = next(x for x in out.getvalue().splitlines() if x.strip().startswith("wisdom votes"))
    votes = len(raw("edge.json"))
    assert line.split() == ["wisdom", "votes", str(votes), "/", str(votes)]
    assert "duplicate wisdom votes dropped: 0" in out.getvalue()


def test_a_missing_folder_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("import_mai_dft", str(tmp_path / "nowhere"), study="x")


def write(folder, **tables):
    for name, rows in tables.items():
        (folder / f"{name}.json").write_text(json.dumps(rows))


def current_format(folder, *, edges):
    """A tiny study in MAI's current format: cards with description and policies."""
    write(
        folder,
        question=[{"id": 1, "title": "Parenting", "question": "My son won't do his homework."}],
        context=[{"id": "When parenting"}],
        contextsOnCases=[{"contextId": "When parenting", "questionId": 1}],
        chat=[{"id": "chat-1", "userId": 7, "questionId": 1}],
        valuesCard=[
            {"id": 10, "title": "Patient Curiosity", "description": "Ask before telling.",
             "policies": ["QUESTIONS that open", "PATIENCE with pace"], "canonicalCardId": 100,
             "questionId": 1, "chatId": "chat-1", "createdAt": "2024-05-01T10:00:00.000Z"},
        ],
        canonicalValuesCard=[
            {"id": 100, "title": "Patient Curiosity", "description": "Ask before telling.",
             "policies": ["QUESTIONS that open"]},
            {"id": 101, "title": "Shared Rules", "description": "Agree rules together.",
             "policies": ["AGREEMENTS made together"]},
        ],
        edge=edges,
    )  # fmt: skip


def edge(user, kind, when, story="I learned to agree rules with him."):
    return {
        "userId": user, "fromId": 100, "toId": 101, "contextId": "When parenting",
        "story": story, "type": kind, "comment": None, "createdAt": when, "updatedAt": when,
    }  # fmt: skip


def test_current_format_cards_import_with_their_chat_and_question(db, tmp_path):
    current_format(tmp_path, edges=[edge(7, "upgrade", "2024-05-02T09:00:00.000Z")])
    import_directory(tmp_path, study_slug="current")
    card = ValuesCard.objects.get(study__slug="current")
    assert (card.title, card.description) == ("Patient Curiosity", "Ask before telling.")
    assert card.policies == ["QUESTIONS that open", "PATIENCE with pace"]
    assert card.participant.external_id == "mai:7"
    assert card.question.title == "Parenting"
    assert card.canonical_link.value.external_id == "mai:100"
    vote = WisdomVote.objects.get(hypothesis__study__slug="current")
    assert vote.answer == "wiser"
    assert vote.hypothesis.story == "I learned to agree rules with him."
    assert not vote.hypothesis.is_active


def test_a_repeated_vote_keeps_the_latest_answer_and_is_counted(db, tmp_path):
    current_format(
        tmp_path,
        edges=[
            edge(7, "upgrade", "2024-05-02T09:00:00.000Z"),
            edge(7, "no_upgrade", "2024-05-03T09:00:00.000Z", story="OLD"),
            edge(8, "not_sure", "2024-05-02T10:00:00.000Z"),
        ],
    )
    summary = import_directory(tmp_path, study_slug="current")
    assert summary.duplicate_votes_dropped == 1
    answers = WisdomVote.objects.filter(hypothesis__study__slug="current")
    assert dict(answers.values_list("participant__external_id", "answer")) == {
        "mai:7": "not_wiser",
        "mai:8": "unsure",
    }
