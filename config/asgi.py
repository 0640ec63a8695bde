import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from dashboard.routing import websocket_urlpatterns as dashboard_sockets  # noqa: E402
from elicitation.routing import websocket_urlpatterns as interview_sockets  # noqa: E402

# Daphne serves no static files; in DEBUG the app does, in production nginx does.
http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app


class AllowedHostsOrigin(OriginValidator):
    """Accept sockets only from pages served by one of ALLOWED_HOSTS, read at connect time.

    Channels' own AllowedHostsOriginValidator freezes the setting at import; reading it per
    connection keeps tests and reloaded settings honest. A socket with no Origin is refused.
    """

    def __init__(self, application) -> None:
        super().__init__(application, [])

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return False
        return any(
            self.match_allowed_origin(parsed_origin, pattern) for pattern in settings.ALLOWED_HOSTS
        )


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOrigin(URLRouter([*interview_sockets, *dashboard_sockets])),
    }
)
