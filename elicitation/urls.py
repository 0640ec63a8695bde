from django.urls import path

app_name = "elicitation"
urlpatterns: list = []
