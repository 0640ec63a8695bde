"""One production-shaped stack for the whole topology stage (it takes about a minute to start).

The fake LLM runs in this process so each test can script failures; the stack's web processes
and worker reach it over HTTP like any OpenAI-compatible server.
"""

import shutil

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, interviewer_responder
from tests.topology.stack import Ports, Stack, default_port_base

REQUIRED = ["nginx", "redis-server", "openssl", "runuser"]


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.topology)
        item.add_marker(pytest.mark.timeout(300))


@pytest.fixture(scope="session")
def fake_llm_server():
    missing = [name for name in REQUIRED if shutil.which(name) is None]
    assert not missing, f"missing {missing}: run scripts/services.sh"
    server = FakeOpenAIServer(
        port=Ports(default_port_base()).llm, token_delay=0.03, responder=interviewer_responder
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def stack(fake_llm_server):
    with Stack(webs=2, llm_port=fake_llm_server.port) as running:
        yield running


@pytest.fixture
def llm(fake_llm_server):
    """The fake LLM, with an empty script at the start and end of each test."""
    fake_llm_server.reset()
    fake_llm_server.token_delay = 0.03
    yield fake_llm_server
    fake_llm_server.reset()
    fake_llm_server.token_delay = 0.03
    fake_llm_server.responder = interviewer_responder


@pytest.fixture
def full_stack(stack):
    """Every process of the stack running before and after the test (faults stop some)."""
    stack.ensure_running()
    yield stack
    stack.ensure_running()
