from channels.auth import AuthMiddlewareStack
from django.urls import path

from .consumers import StudyProgressConsumer

# Only the dashboard's socket needs the logged-in user (the interview socket has its own cookie).
websocket_urlpatterns = [
    path("ws/dashboard/<slug:slug>/", AuthMiddlewareStack(StudyProgressConsumer.as_asgi())),
]
