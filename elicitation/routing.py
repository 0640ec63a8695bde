from django.urls import path

from .consumers import InterviewConsumer

websocket_urlpatterns = [
    path("ws/interview/<int:pk>/", InterviewConsumer.as_asgi()),
]
