"""Class 9 of issue 9, replayed at the edges: socket Origin, login guessing, CSP, nginx rate
limits, and where the client address comes from."""

import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from config.asgi import application
from elicitation import services
from elicitation.asyncdb import db
from tests.conftest import participant_cookie_header
from tests.security.support import browser

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-organizer-password"  # noqa: S105 (the organizer persona's)


# --- Websocket Origin: scheme, host and port ---


async def socket_opens(participant, question, headers: list[tuple[bytes, bytes]]) -> bool:
    interview = await db(services.interview_start)(participant=participant, question=question)
    communicator = WebsocketCommunicator(
        application,
        f"/ws/interview/{interview.pk}/",
        [participant_cookie_header(participant), *headers],
    )
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "host", "opens"),
    [
        ("http://testserver", None, True),
        ("https://testserver", None, False),  # another scheme
        ("http://testserver:8443", None, False),  # another port
        ("http://testserver:8000", "testserver:8000", True),
        ("http://testserver:9000", "testserver:8000", False),
        ("http://testserver", "testserver:8000", False),
        ("http://evil.example:8000", "evil.example:8000", False),  # a host not allowed
        ("null", None, False),
    ],
)
async def test_a_socket_opens_only_from_our_own_scheme_host_and_port(
    participant, question, origin, host, opens
):
    headers = [(b"origin", origin.encode())] + ([(b"host", host.encode())] if host else [])

    assert await socket_opens(participant, question, headers) is opens


@pytest.mark.django_db(transaction=True)
async def test_behind_tls_a_socket_opens_only_from_the_https_origin(
    participant, question, settings
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    behind_tls = [(b"host", b"testserver"), (b"x-forwarded-proto", b"https")]

    assert await socket_opens(
        participant, question, [(b"origin", b"https://testserver")] + behind_tls
    )
    assert not await socket_opens(
        participant, question, [(b"origin", b"http://testserver")] + behind_tls
    )


@pytest.mark.django_db(transaction=True)
async def test_a_trusted_origin_is_matched_exactly(participant, question, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://study.example.org"]

    assert await socket_opens(participant, question, [(b"origin", b"https://study.example.org")])
    assert not await socket_opens(
        participant, question, [(b"origin", b"https://study.example.org:444")]
    )


# --- Login throttling ---


def login(client, password: str, **extra):
    return client.post(
        reverse("admin:login"), {"username": "organizer", "password": password}, **extra
    )


@pytest.mark.django_db
def test_twenty_wrong_passwords_lock_the_client_out_of_the_admin(client, organizer, settings):
    statuses = [login(client, f"guess-{n}").status_code for n in range(20)]

    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_FAILURE_LIMIT :]) == {429}
    assert login(client, PASSWORD).status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_forged_forwarded_for_does_not_escape_the_lockout(client, organizer, settings):
    settings.MGE_TRUSTED_PROXY_COUNT = 0
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, f"guess-{n}", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    response = login(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")

    assert response.status_code == 429


@pytest.mark.django_db
def test_behind_a_proxy_the_lockout_keys_on_the_forwarded_client(client, organizer, settings):
    settings.MGE_TRUSTED_PROXY_COUNT = 1
    for n in range(settings.AXES_FAILURE_LIMIT):
        login(client, f"guess-{n}", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert login(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    honest = login(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert honest.status_code == 302


@pytest.mark.django_db
def test_the_dashboard_still_logs_in_with_the_right_password(client, organizer):
    response = login(client, PASSWORD)

    assert response.status_code == 302
    assert client.get(reverse("dashboard:study_list")).status_code == 200


# --- Content-Security-Policy ---


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.django_db
def test_every_kind_of_page_carries_a_strict_policy(client, staff, study, participant, question):
    interview = services.interview_start(participant=participant, question=question)
    pages = [
        browser(participant).get(reverse("elicitation:interview", kwargs={"pk": interview.pk})),
        client.get(reverse("elicitation:landing", kwargs={"slug": study.slug})),
        staff.get(reverse("dashboard:overview", args=[study.slug])),
        staff.get(reverse("admin:index")),
    ]
    for response in pages:
        assert response.status_code == 200
        policy = policy_of(response)
        assert policy["script-src"] == ["'self'"]
        assert policy["style-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


INLINE_IN_HTML = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I
)
INLINE_FROM_JS = re.compile(r"setAttribute\(\s*[\"'](style|on\w+)[\"']|\beval\(|new Function\(")


def test_no_template_or_script_uses_what_the_policy_blocks():
    templates = list(ROOT.joinpath("templates").rglob("*.html"))
    scripts = list(ROOT.joinpath("static").rglob("*.js"))
    offending = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for paths, pattern in ((templates, INLINE_IN_HTML), (scripts, INLINE_FROM_JS))
        for path in paths
        for match in pattern.finditer(path.read_text())
    ]

    assert len(templates) > 10 and scripts
    assert offending == []


# --- Where the client address comes from ---


def test_the_container_reads_the_client_address_only_through_the_trusted_proxy_setting():
    dockerfile = ROOT.joinpath("deploy/Dockerfile").read_text()
    compose = ROOT.joinpath("deploy/compose.yaml").read_text()

    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "ops.serve" in command
    from ops.serve import server_command

    for server in ("uvicorn", "daphne"):
        argv = server_command(server, "0.0.0.0", 8000)
        assert "--proxy-headers" not in argv
    assert "--no-proxy-headers" in server_command("uvicorn", "0.0.0.0", 8000)
    assert re.search(r'MGE_TRUSTED_PROXY_COUNT: "1"', compose)


# --- nginx limit_req, run for real when nginx is installed ---


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def nginx_site(tmp_path: Path, upstream: int, port: int) -> Path:
    """Our site config, pointed at a stub upstream and a loopback port, without TLS."""
    site = ROOT.joinpath("deploy/nginx/mge.conf.template").read_text()
    names = {"MGE_HTTP_PORT": "80", "MGE_HTTPS_PORT": "443", "MGE_STATIC_ROOT": str(tmp_path)}
    for name, value in names.items():
        site = site.replace("${" + name + "}", value)
    pool = ROOT.joinpath("deploy/nginx/upstream.conf").read_text()
    site = pool.replace("server web:8000", f"server 127.0.0.1:{upstream}") + site
    https = site.index("server {", site.index("server {") + 1)
    head, tls_server = site[:https], site[https:]
    tls_server = re.sub(r"\s*(listen|ssl_\w+|http2)\b[^;]*;", "", tls_server)
    tls_server = tls_server.replace("server {", f"server {{\n    listen 127.0.0.1:{port};", 1)
    head = head[: head.index("server {")]  # drop the port-80 redirect server
    (tmp_path / "site.conf").write_text(head + tls_server)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path};\n"
        f" proxy_temp_path {tmp_path};\n include {tmp_path}/site.conf;\n}}\n"
    )
    return main


@pytest.fixture
def stub_upstream():
    port = free_port()
    code = (
        "import http.server as h\n"
        "class H(h.BaseHTTPRequestHandler):\n"
        "  def ok(self):\n"
        "    self.rfile.read(int(self.headers.get('Content-Length') or 0))\n"
        "    self.send_response(200); self.send_header('Content-Length','0'); self.end_headers()\n"
        "  do_GET = do_POST = ok\n"
        "  def log_message(self, *a): pass\n"
        f"h.ThreadingHTTPServer(('127.0.0.1', {port}), H).serve_forever()\n"
    )
    process = subprocess.Popen(["python3", "-c", code])  # noqa: S603, S607
    time.sleep(0.5)
    yield port
    process.terminate()
    process.wait(timeout=5)


def status(url: str, method: str) -> int:
    request = urllib.request.Request(url, data=b"x=1" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_limits_participant_posts_and_admin_logins_per_client(tmp_path, stub_upstream):
    port = free_port()
    config = nginx_site(tmp_path, stub_upstream, port)
    subprocess.run(["nginx", "-c", str(config)], check=True)  # noqa: S603, S607
    try:
        time.sleep(0.3)
        base = f"http://127.0.0.1:{port}"
        logins = [status(f"{base}/admin/login/", "POST") for _ in range(12)]
        posts = [status(f"{base}/s/demo/", "POST") for _ in range(30)]
        pages = [status(f"{base}/s/demo/", "GET") for _ in range(30)]
    finally:
        subprocess.run(["nginx", "-c", str(config), "-s", "stop"], check=False)  # noqa: S603, S607

    assert logins[:6] == [200] * 6 and set(logins[6:]) == {429}
    assert posts[:21] == [200] * 21 and set(posts[21:]) == {429}
    assert set(pages) == {200}
