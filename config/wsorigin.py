"""Which pages may open our websockets: the same origin, by scheme, host and port.

Django's CSRF check applies the same rule to HTTP POSTs: the Origin must be the request's own
scheme://host:port (the Host header, which must be in ALLOWED_HOSTS), or be listed exactly in
CSRF_TRUSTED_ORIGINS. A socket with no Origin, or a null one, is refused.
"""

from urllib.parse import urlsplit

from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_allowed(
    origin: str,
    *,
    host: str | None,
    secure: bool,
    allowed_hosts: list[str],
    trusted_origins: list[str],
) -> bool:
    page = _triple(origin)
    if page is None:
        return False
    if any(page == _triple(trusted) for trusted in trusted_origins):
        return True
    scheme = "https" if secure else "http"
    if host is None:  # no Host header (test clients): an allowed host on the default port
        own = (scheme, page[1], DEFAULT_PORTS[scheme])
    else:
        own = _triple(f"{scheme}://{host}")
    return own is not None and page == own and validate_host(own[1], allowed_hosts)


def _triple(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) origin, the port made explicit; None if malformed."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.username:
        return None
    host, _ = split_domain_port(parts.netloc)
    return parts.scheme, host or parts.hostname, port or DEFAULT_PORTS[parts.scheme]
