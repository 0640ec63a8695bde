"""Attack classes 1 and 2: a participant farm from one client, and taking over another
person's Prolific PID. Admission is per study: an open link throttled per client address,
Prolific only, or single-use invite links."""

import csv
import io

import pytest
from django.conf import settings as django_settings

from elicitation import services
from elicitation.models import Interview, Invite, Participant, Study
from tests.security.support import browser, url

ATTACKER = "198.51.100.66"


def consent(client, study: Study, **fields):
    return client.post(url("landing", slug=study.slug), {**fields, "decision": "agree"})


def farm(study: Study, attempts: int = 30, **fields) -> list[int]:
    """One client, a fresh cookie jar each time, as a script would do it."""
    return [
        consent(browser(address=ATTACKER), study, **fields).status_code for _ in range(attempts)
    ]


# --- the farm ---


def test_one_client_cannot_create_thirty_participants_on_an_open_link(study, settings):
    settings.MGE_ADMISSIONS_PER_CLIENT_PER_HOUR = 5

    statuses = farm(study)

    assert Participant.objects.filter(study=study).count() == 5
    assert statuses.count(302) == 5 and statuses.count(429) == 25


def test_made_up_prolific_ids_do_not_get_around_the_throttle(study, settings):
    settings.MGE_ADMISSIONS_PER_CLIENT_PER_HOUR = 3

    for n in range(10):
        consent(browser(address=ATTACKER), study, PROLIFIC_PID=f"fake-{n}")

    assert Participant.objects.filter(study=study).count() == 3


def test_a_forged_forwarded_for_header_does_not_get_around_the_throttle(study, settings):
    settings.MGE_ADMISSIONS_PER_CLIENT_PER_HOUR = 2
    settings.MGE_TRUSTED_PROXY_COUNT = 0

    for n in range(6):
        client = browser(address=ATTACKER)
        client.post(
            url("landing", slug=study.slug),
            {"decision": "agree"},
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )

    assert Participant.objects.filter(study=study).count() == 2


def test_the_throttle_is_per_client_and_says_why(study, settings):
    settings.MGE_ADMISSIONS_PER_CLIENT_PER_HOUR = 1
    consent(browser(address=ATTACKER), study)

    refused = consent(browser(address=ATTACKER), study)
    neighbour = consent(browser(address="192.0.2.10"), study)

    assert refused.status_code == 429
    assert "Too many people have joined from your network" in refused.content.decode()
    assert django_settings.MGE_PARTICIPANT_COOKIE not in refused.cookies
    assert neighbour.status_code == 302
    assert Participant.objects.filter(study=study).count() == 2


def test_a_returning_browser_is_not_counted_again(study, settings):
    settings.MGE_ADMISSIONS_PER_CLIENT_PER_HOUR = 1
    me = browser(address=ATTACKER)

    first, again = consent(me, study), consent(me, study)

    assert (first.status_code, again.status_code) == (302, 302)
    assert Participant.objects.filter(study=study).count() == 1


# --- Prolific only ---


@pytest.fixture
def prolific_study(study) -> Study:
    study.admission, study.prolific_study_id = Study.Admission.PROLIFIC, "prolific-study-9"
    study.save()
    return study


def prolific(pid: str, study_id: str = "prolific-study-9") -> dict:
    return {"PROLIFIC_PID": pid, "STUDY_ID": study_id, "SESSION_ID": "session-1"}


def test_a_prolific_only_study_turns_away_visitors_without_prolific_ids(prolific_study):
    page = browser().get(url("landing", slug=prolific_study.slug))
    statuses = farm(prolific_study, attempts=5)

    assert page.status_code == 403 and "only to participants who come from Prolific" in (
        page.content.decode()
    )
    assert statuses == [403] * 5
    assert not Participant.objects.exists()


def test_a_prolific_only_study_refuses_another_studys_ids(prolific_study):
    response = consent(browser(), prolific_study, **prolific("pid-1", study_id="other-study"))

    assert response.status_code == 403 and "another Prolific study" in response.content.decode()
    assert not Participant.objects.exists()


def test_a_prolific_participant_is_admitted_with_the_studys_ids(prolific_study):
    response = consent(browser(), prolific_study, **prolific("pid-1"))

    assert response.status_code == 302
    assert Participant.objects.get().prolific_pid == "pid-1"


@pytest.fixture
def victim(prolific_study, question) -> Participant:
    """Someone who joined with their PID, told us about themselves and started chatting."""
    victim_browser = browser(address="192.0.2.44")
    consent(victim_browser, prolific_study, **prolific("victim-pid"))
    victim = Participant.objects.get(prolific_pid="victim-pid")
    services.participant_demographics_save(
        participant=victim, answers={"country": "Iceland", "religion": "Lutheran"}
    )
    interview = services.interview_start(participant=victim, question=question)
    services.interview_message_add(
        interview=interview, client_id="v1", content="My private story about my sister."
    )
    return victim


def test_another_browser_with_the_same_pid_gets_nothing_of_the_first_person(prolific_study, victim):
    attacker = browser(address=ATTACKER)

    response = consent(attacker, prolific_study, **prolific("victim-pid"))
    interview = Interview.objects.get(participant=victim)
    pages = [
        attacker.get(url("start", slug=prolific_study.slug)),
        attacker.get(interview.get_absolute_url()),
    ]

    assert response.status_code == 403
    assert "already taking part from another browser" in response.content.decode()
    assert django_settings.MGE_PARTICIPANT_COOKIE not in response.cookies
    for page in [response, *pages]:
        assert "Iceland" not in page.content.decode()
        assert "private story" not in page.content.decode()
    assert pages[0]["Location"] == url("landing", slug=prolific_study.slug)
    assert pages[1].status_code == 404
    assert Participant.objects.filter(study=prolific_study).count() == 1


def test_a_pid_on_an_open_link_binds_to_its_first_browser_too(study, question):
    first = browser(address="192.0.2.44")
    consent(first, study, PROLIFIC_PID="victim-pid")
    victim = Participant.objects.get(prolific_pid="victim-pid")
    services.participant_demographics_save(participant=victim, answers={"country": "Iceland"})

    response = consent(browser(address=ATTACKER), study, PROLIFIC_PID="victim-pid")

    assert response.status_code == 403 and "Iceland" not in response.content.decode()
    assert django_settings.MGE_PARTICIPANT_COOKIE not in response.cookies
    assert consent(first, study, PROLIFIC_PID="victim-pid").status_code == 302


def test_two_long_pids_on_an_open_link_never_collide(study):
    consent(browser(address="192.0.2.1"), study, PROLIFIC_PID="p" * 64 + "-first")

    second = consent(browser(address=ATTACKER), study, PROLIFIC_PID="p" * 64 + "-second")

    assert second.status_code == 403
    assert not Participant.objects.filter(prolific_pid__startswith="ppp").exists()


def test_a_pid_longer_than_the_field_is_refused_not_cut_into_a_collision(prolific_study):
    long_pid = "p" * 64
    consent(browser(address="192.0.2.1"), prolific_study, **prolific(long_pid))

    response = consent(browser(address=ATTACKER), prolific_study, **prolific(long_pid + "-x"))

    assert response.status_code == 403 and "not valid" in response.content.decode()
    assert list(Participant.objects.values_list("prolific_pid", flat=True)) == [long_pid]


def test_an_organizer_can_release_a_pid_to_a_new_browser(staff, prolific_study, victim):
    old_browser = browser(victim)
    staff.post(f"/dashboard/s/{prolific_study.slug}/admission/release/", {"pid": "victim-pid"})
    new_browser = browser(address="192.0.2.45")

    response = consent(new_browser, prolific_study, **prolific("victim-pid"))

    assert response.status_code == 302
    assert Participant.objects.filter(study=prolific_study).count() == 1
    assert new_browser.get(url("start", slug=prolific_study.slug)).status_code == 302
    assert old_browser.get(url("start", slug=prolific_study.slug))["Location"] == url(
        "landing", slug=prolific_study.slug
    )
    again = consent(browser(address=ATTACKER), prolific_study, **prolific("victim-pid"))
    assert again.status_code == 403  # the release is used up


# --- invite links ---


@pytest.fixture
def invite_study(study) -> Study:
    study.admission = Study.Admission.INVITE
    study.save()
    return study


def invite_links(staff, study: Study, count: int) -> list[str]:
    staff.post(f"/dashboard/s/{study.slug}/admission/invites/", {"count": count})
    download = staff.get(f"/dashboard/s/{study.slug}/admission/invites.csv")
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    return [row["link"].removeprefix("http://testserver") for row in rows]


def follow_invite(client, link: str):
    code = link.split("invite=", 1)[1]
    return consent(client, Study.objects.get(), invite=code)


def test_an_organizer_downloads_n_single_use_invite_links(staff, invite_study):
    links = invite_links(staff, invite_study, 3)

    assert len(links) == len(set(links)) == 3 == Invite.objects.count()
    assert all(link.startswith(f"/s/{invite_study.slug}/?invite=") for link in links)


def test_an_invite_admits_the_first_browser_only(staff, invite_study):
    (link,) = invite_links(staff, invite_study, 1)
    first, second = browser(address="192.0.2.1"), browser(address=ATTACKER)

    admitted = follow_invite(first, link)
    refused = follow_invite(second, link)
    returning = follow_invite(first, link)

    assert admitted.status_code == 302 and returning.status_code == 302
    assert refused.status_code == 403 and "already used" in refused.content.decode()
    assert Participant.objects.count() == 1
    assert Invite.objects.get().participant == Participant.objects.get()


def test_an_invite_study_admits_nobody_beyond_the_invites(staff, invite_study):
    links = invite_links(staff, invite_study, 2)
    forged = "/s/x/?invite=forged-token:forged-signature"

    statuses = [follow_invite(browser(address=ATTACKER), link) for link in links * 10]
    statuses += farm(invite_study, attempts=5)
    statuses.append(follow_invite(browser(address=ATTACKER), forged))

    assert Participant.objects.count() == 2
    assert [getattr(s, "status_code", s) for s in statuses].count(302) == 2
