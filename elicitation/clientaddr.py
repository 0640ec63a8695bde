"""The client's address as the app may trust it, and the keyed hash that is all we keep of it.

Behind N trusted reverse proxies (`MGE_TRUSTED_PROXY_COUNT`), each proxy appends the address it
saw to X-Forwarded-For, so the client is the entry N places from the right of
`X-Forwarded-For + [REMOTE_ADDR]`; anything further left was written by the client and is ignored.
"""

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

HASH_SALT = "elicitation.clientaddr"


def client_address(request: HttpRequest) -> str:
    return address_from(
        remote=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", ""),
        trusted_hops=settings.MGE_TRUSTED_PROXY_COUNT,
    )


def address_from(*, remote: str, forwarded_for: str, trusted_hops: int) -> str:
    chain = [part.strip() for part in forwarded_for.split(",") if part.strip()] + [remote]
    if trusted_hops <= 0:
        return remote
    return chain[max(len(chain) - 1 - trusted_hops, 0)]


def client_hash(address: str) -> str:
    """A keyed hash: groups one client's visits without storing where they came from."""
    return salted_hmac(HASH_SALT, address).hexdigest()[:32] if address else ""
