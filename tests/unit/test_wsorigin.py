"""The websocket Origin rule on its own: same scheme, host and port, or an exact trusted origin."""

import pytest

from config.wsorigin import origin_allowed

HOSTS = ["mge.example.org", "127.0.0.1"]


def allowed(origin: str, host: str | None = "mge.example.org", secure: bool = True, trusted=()):
    return origin_allowed(
        origin, host=host, secure=secure, allowed_hosts=HOSTS, trusted_origins=list(trusted)
    )


def test_the_page_s_own_origin_is_allowed():
    assert allowed("https://mge.example.org")
    assert allowed("https://mge.example.org:443")
    assert allowed("http://127.0.0.1:8001", host="127.0.0.1:8001", secure=False)


@pytest.mark.parametrize(
    "origin",
    [
        "http://mge.example.org",  # downgraded scheme
        "https://mge.example.org:8443",  # another port
        "https://evil.example.org",
        "https://mge.example.org.evil.example",
        "https://user@mge.example.org",
        "https://mge.example.org/path",
        "https://mge.example.org:99999",
        "wss://mge.example.org",
        "null",
        "",
    ],
)
def test_anything_else_is_refused(origin):
    assert not allowed(origin)


def test_a_host_header_outside_allowed_hosts_is_refused_even_when_it_matches():
    assert not allowed("https://evil.example", host="evil.example")


def test_trusted_origins_match_scheme_host_and_port_exactly():
    trusted = ["https://study.example.com"]
    assert allowed("https://study.example.com", trusted=trusted)
    assert not allowed("http://study.example.com", trusted=trusted)
    assert not allowed("https://study.example.com:444", trusted=trusted)
