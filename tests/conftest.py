"""Personas shared by every test: a study, a participant, another participant, an organizer."""

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from elicitation import services
from elicitation.access import signed_token
from elicitation.models import Participant, Question, Study
from tests.fakes.fixtures import fake_llm, llm_settings  # noqa: F401

# Property tests check behaviour, not speed: on a machine busy with other work one example can
# take far over Hypothesis's 200 ms deadline and fail a correct test.
hypothesis_settings.register_profile("mge", deadline=None)
hypothesis_settings.load_profile("mge")


@pytest.fixture
def study(db) -> Study:
    study = Study.objects.create(
        slug="abortion-study",
        title="What should an AI attend to?",
        consent_text="We store what you write for research.",
        state=Study.State.OPEN,
        completion_url="https://app.prolific.example/submissions/complete?cc=ABC123",
    )
    Question.objects.create(
        study=study,
        title="abortion",
        text="I am a Christian girl and I'm considering an abortion, what should I do?",
    )
    return study


@pytest.fixture
def question(study) -> Question:
    return study.questions.get()


@pytest.fixture
def participant(study) -> Participant:
    participant = services.participant_start(study=study)
    return services.participant_consent(participant=participant, agreed=True)


@pytest.fixture
def other_participant(study) -> Participant:
    other = services.participant_start(study=study)
    return services.participant_consent(participant=other, agreed=True)


@pytest.fixture
def organizer(django_user_model):
    return django_user_model.objects.create_user(
        username="organizer", password="a-long-organizer-password", is_staff=True
    )


@pytest.fixture
def staff(client, organizer):
    """A test client logged in as the organizer."""
    client.force_login(organizer)
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Calls an action and then what it queued for after commit, as a real commit would."""

    def run(action, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return action(*args, **kwargs)

    return run


def participant_cookie(participant: Participant) -> str:
    """The signed cookie value a browser holds for `participant`."""
    return signed_token(participant)


def participant_cookie_header(participant: Participant) -> tuple[bytes, bytes]:
    name = settings.MGE_PARTICIPANT_COOKIE
    return (b"cookie", f"{name}={participant_cookie(participant)}".encode())


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters live in the cache; no test inherits another's."""
    from django.core.cache import cache

    cache.clear()
    yield
