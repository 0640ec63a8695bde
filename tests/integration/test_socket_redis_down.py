"""Redis down: an open interview socket stays open, a message sent meanwhile is refused as
retryable (no turn can be claimed) and not stored, and the same message sent again once Redis
is back is stored, acknowledged and answered. The rate limit lets actions through meanwhile."""

import pytest
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator
from django.core.cache.backends.locmem import LocMemCache
from redis.exceptions import ConnectionError as RedisConnectionError

from config.asgi import application
from elicitation import services, throttle
from elicitation.asyncdb import db
from tests.conftest import participant_cookie_header
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.django_db(transaction=True)


class RedisGoneLayer(InMemoryChannelLayer):
    async def receive(self, channel):
        raise RedisConnectionError("Connection refused")


class FlakyCache(LocMemCache):
    """A cache that raises as redis-py does while `down` is set."""

    down = True

    def add(self, *args, **kwargs):
        self._reachable()
        return super().add(*args, **kwargs)

    def get(self, *args, **kwargs):
        self._reachable()
        return super().get(*args, **kwargs)

    def incr(self, *args, **kwargs):
        self._reachable()
        return super().incr(*args, **kwargs)

    def _reachable(self):
        if FlakyCache.down:
            raise RedisConnectionError("Connection refused")


@pytest.fixture
def redis_gone(settings):
    FlakyCache.down = True
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.RedisGoneLayer"}}
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.FlakyCache"}}
    yield
    FlakyCache.down = False


@pytest.fixture
def interview(participant, question):
    return services.interview_start(participant=participant, question=question)


async def test_a_message_sent_while_redis_is_down_is_refused_as_retryable_and_taken_after(
    redis_gone, interview, participant, fake_llm, llm_settings
):
    fake_llm.script(Reply("What did you do then?"))
    headers = [participant_cookie_header(participant), (b"origin", b"http://testserver")]
    communicator = WebsocketCommunicator(application, f"/ws/interview/{interview.pk}/", headers)
    assert (await communicator.connect(timeout=5))[0]
    await communicator.receive_json_from(timeout=5)
    message = {"type": "message", "client_id": "c1", "content": "My sister asked me."}

    await communicator.send_json_to(message)
    refusal = await communicator.receive_json_from(timeout=5)
    FlakyCache.down = False
    await communicator.send_json_to(message)
    frames = [await communicator.receive_json_from(timeout=10)]
    while frames[-1]["type"] != "reply_end":
        frames.append(await communicator.receive_json_from(timeout=10))

    assert (refusal["code"], refusal["retryable"]) == ("unavailable", True)
    assert frames[0]["type"] == "ack" and not frames[0]["duplicate"]
    assert "".join(f["text"] for f in frames if f["type"] == "token") == "What did you do then?"
    assert await db(stored_user_texts)(interview) == ["My sister asked me."]
    await communicator.disconnect()


def stored_user_texts(interview) -> list[str]:
    return list(interview.messages.filter(role="user").values_list("content", flat=True))


def test_the_rate_limit_lets_actions_through_while_its_cache_is_unreachable(redis_gone):
    assert all(throttle.allow("vote:abc", per_minute=1) for _ in range(3))


def test_the_rate_limit_counts_again_once_its_cache_is_back():
    assert [throttle.allow("vote:abc", per_minute=2) for _ in range(3)] == [True, True, False]
