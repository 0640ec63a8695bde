from django.urls import path

from . import views

app_name = "elicitation"
urlpatterns = [
    path("s/<slug:slug>/", views.landing, name="landing"),
    path("s/<slug:slug>/declined/", views.declined, name="declined"),
    path("s/<slug:slug>/withdraw/", views.withdraw, name="withdraw"),
    path("s/<slug:slug>/about-you/", views.demographics, name="demographics"),
    path("s/<slug:slug>/start/", views.start, name="start"),
    path("s/<slug:slug>/vote/", views.vote, name="vote"),
    path("s/<slug:slug>/results/", views.results, name="results"),
    path("s/<slug:slug>/done/", views.done, name="done"),
    path("interview/<int:pk>/", views.interview, name="interview"),
    path("interview/<int:pk>/guided/", views.guided, name="guided"),
    path("interview/<int:pk>/card/", views.card, name="card"),
]
