"""Every dashboard route, found from the URLconf itself, is closed to everyone but staff."""

import pytest
from django.conf import settings
from django.urls import URLPattern, reverse

from dashboard.urls import urlpatterns
from elicitation.models import Study

pytestmark = pytest.mark.django_db

ARGUMENTS = {"slug": "abortion-study", "pk": 1, "context_id": 1, "value_id": 1}


def route_url(pattern: URLPattern) -> str:
    names = pattern.pattern.converters.keys()
    return reverse(f"dashboard:{pattern.name}", kwargs={n: ARGUMENTS[n] for n in names})


ROUTES = [pytest.param(p, id=p.name) for p in urlpatterns]


@pytest.mark.parametrize("pattern", ROUTES)
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_reach_no_dashboard_route(client, study, pattern, method):
    before = Study.objects.values_list("state", flat=True).get(pk=study.pk)

    response = getattr(client, method)(route_url(pattern))

    assert response.status_code == 302
    assert response.url.startswith(settings.LOGIN_URL)
    assert Study.objects.values_list("state", flat=True).get(pk=study.pk) == before


@pytest.mark.parametrize("pattern", ROUTES)
def test_logged_in_users_without_staff_rights_reach_no_dashboard_route(
    client, study, pattern, django_user_model
):
    user = django_user_model.objects.create_user(username="member", password="x-long-password")
    client.force_login(user)

    response = client.post(route_url(pattern), {"state": "closed", "kind": "aggregate"})

    assert response.status_code == 302
    assert response.url.startswith(settings.LOGIN_URL)
    assert not study.jobs.exists()
