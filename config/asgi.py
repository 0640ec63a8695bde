import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from config.wsorigin import origin_allowed  # noqa: E402
from dashboard.routing import websocket_urlpatterns as dashboard_sockets  # noqa: E402
from elicitation.routing import websocket_urlpatterns as interview_sockets  # noqa: E402

# Daphne serves no static files; in DEBUG the app does, in production nginx does.
http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app


class SameOriginWebsocket:
    """Accept a socket only from a page of our own origin (scheme, host and port), or from one
    listed in CSRF_TRUSTED_ORIGINS; settings are read at connect time, so tests can change them.
    """

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not _same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def _same_origin(scope: dict) -> bool:
    headers = {name.lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    return origin_allowed(
        headers.get(b"origin", ""),
        host=headers.get(b"host"),
        secure=_is_secure(scope, headers),
        allowed_hosts=settings.ALLOWED_HOSTS,
        trusted_origins=settings.CSRF_TRUSTED_ORIGINS,
    )


def _is_secure(scope: dict, headers: dict) -> bool:
    """wss, or TLS ended at a proxy that says so the way Django trusts for HTTP."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name = proxy_header[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        if headers.get(name, "").split(",")[0].strip() == proxy_header[1]:
            return True
    return scope.get("scheme") == "wss"


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": SameOriginWebsocket(URLRouter([*interview_sockets, *dashboard_sockets])),
    }
)
