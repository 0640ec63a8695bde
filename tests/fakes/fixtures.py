"""Pytest fixtures for the fakes; import them into a conftest.py to use them.

from tests.fakes.fixtures import fake_llm, llm_settings  # noqa: F401
"""

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAIServer


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    """A running fake OpenAI server for one test (empty script, echo responder)."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def llm_settings(settings, fake_llm: FakeOpenAIServer):
    """Point the LLM settings at `fake_llm`, with fast retries and a known price."""
    settings.LLM_BASE_URL = fake_llm.base_url
    settings.LLM_API_KEY = "sk-test"
    settings.LLM_MODEL = "fake-model"
    settings.LLM_MAX_RETRIES = 2
    settings.LLM_RETRY_BASE_SECONDS = 0.01
    settings.LLM_TIMEOUT_SECONDS = 5.0
    settings.LLM_STREAM_IDLE_SECONDS = 5.0
    settings.LLM_STREAM_TOTAL_SECONDS = 30.0
    settings.LLM_PRICES = {"fake-model": (2.5, 10.0), "study-model": (2.5, 10.0)}
    return settings
