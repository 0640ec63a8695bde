"""The dashboard is for staff only: every view is wrapped here, every socket checked here."""

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import get_object_or_404

from elicitation.models import Study

#: Wraps every dashboard view: non-staff visitors go to the admin login page and come back after.
staff_view = staff_member_required


def study_for(slug: str) -> Study:
    return get_object_or_404(Study, slug=slug)


def is_staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)
