"""Browser tests against the real ASGI server (Daphne), a fake LLM and a throwaway SQLite file.

Run in their own process (sync Playwright leaves an event loop behind):
    DJANGO_ALLOW_ASYNC_UNSAFE=true .venv/bin/pytest tests/e2e -m e2e

The app runs as `manage.py runserver`, which `daphne` in INSTALLED_APPS turns into Daphne's
server: websockets work and, with DEBUG on, static files are served. pytest-django's
live_server is WSGI-only, so it cannot carry the interview socket.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, interviewer_responder

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MGE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = os.environ.get("MGE_CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc=E2ECODE"
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests run only when asked for with `-m e2e`, never inside the main run."""
    expression = config.getoption("markexpr") or ""
    if "e2e" in expression and "not e2e" not in expression:
        return
    skip = pytest.mark.skip(reason="browser test: run `pytest tests/e2e -m e2e` on its own")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own loopback server)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@pytest.fixture(scope="session")
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(token_delay=0.03, responder=interviewer_responder) as server:
        yield server


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, fake_llm) -> Iterator[dict]:
    """Migrate and seed a fresh SQLite file, then serve the app on a free loopback port."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    db_path = tmp_path_factory.mktemp("e2e") / "e2e.sqlite3"
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{db_path}",
        "LLM_BASE_URL": fake_llm.base_url,
        "LLM_API_KEY": "sk-e2e",
        "LLM_MODEL": "fake-model",
        "LLM_TIMEOUT_SECONDS": "10",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Eager Celery would load the embedding model inside the confirm request; dedupe has
        # its own integration tests.
        "MGE_DEDUPE_ON_CONFIRM": "false",
        # Every browser here comes from 127.0.0.1; the per-client throttle has its own tests.
        "MGE_ADMISSIONS_PER_CLIENT_PER_HOUR": "1000",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    seed = [
        *manage,
        "seed_demo",
        "--password",
        "e2e-organizer-pw",
        "--completion-url",
        COMPLETION_URL,
    ]
    subprocess.run(seed, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    log = (ARTIFACTS / "e2e-server.log").open("w")
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base_url}/s/demo/", server)
        yield {"url": base_url, "db": db_path}
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    deadline = time.monotonic() + 300  # chromium may still be installing in the background
    while not Path(CHROMIUM).exists() and time.monotonic() < deadline:
        time.sleep(5)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_server) -> Iterator:
    """A fresh phone-sized browser (so a new participant); Prolific's site is stubbed."""
    context = browser.new_context(viewport=PHONE, base_url=app_server["url"])
    context.set_default_timeout(15_000)
    context.route(
        "https://app.prolific.com/**",
        lambda route: route.fulfill(
            content_type="text/html",
            body="<!doctype html><title>Prolific</title><h1>Submission complete</h1>",
        ),
    )
    page = context.new_page()
    blocked: list[str] = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert blocked == [], "the Content-Security-Policy blocked something on these pages"
