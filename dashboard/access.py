"""The dashboard is for staff only: every view is wrapped here, every socket checked here."""

from collections.abc import Callable

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from elicitation.models import Study


def staff_view(view: Callable) -> Callable:
    """Non-staff visitors go to the admin login page and come back after."""
    return staff_member_required(view)


def study_for(slug: str) -> Study:
    return get_object_or_404(Study, slug=slug)


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def require_staff(request: HttpRequest) -> None:
    if not is_staff(request.user):
        raise Http404
