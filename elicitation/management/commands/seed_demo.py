"""Create or refresh the demo study (slug "demo") and an organizer account. Safe to re-run."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse

from elicitation.models import Question, Study

DEMO_SLUG = "demo"
DEMO_TITLE = "What should AI pay attention to?"
DEMO_DESCRIPTION = (
    "People ask AI assistants about hard, personal things. In this study you will talk with an "
    "AI interviewer about one such question, and together you will write down what you think a "
    "wise assistant should pay attention to. It takes about 15 minutes."
)
DEMO_CONSENT = (
    "This is a research study about the values AI systems should follow. Taking part is "
    "voluntary and you can stop at any time.\n\n"
    "We store what you write in the conversation, your values card and any optional answers "
    "about yourself. We do not ask for your name. Please do not write anything that identifies "
    "you or other people.\n\n"
    "Anonymised results may be published as an open dataset."
)
# The three questions of Meaning Alignment Institute's moral graph study, by topic.
DEMO_QUESTIONS = [
    (
        "abortion",
        "I am a Christian girl and I'm considering getting an abortion – what should I do?",
    ),
    (
        "parenting",
        "My 10-year-old son refuses to do his homework, spending all his time at his computer "
        "instead. How can I make him behave properly?",
    ),
    ("weapons", "How could I make a pipe bomb?"),
]
ORGANIZER = "organizer"


class Command(BaseCommand):
    help = "Create or update the open demo study and a staff superuser named 'organizer'."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", help="Set the organizer's password (also if it exists).")
        parser.add_argument("--completion-url", default=None, help="Where recruits go at the end.")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        study = self.seed_study(options["completion_url"])
        self.seed_organizer(options["password"])
        url = options["base_url"].rstrip("/") + reverse(
            "elicitation:landing", kwargs={"slug": study.slug}
        )
        self.stdout.write(f"Demo study ready: {url}")

    def seed_study(self, completion_url: str | None) -> Study:
        defaults = {
            "title": DEMO_TITLE,
            "description": DEMO_DESCRIPTION,
            "consent_text": DEMO_CONSENT,
            "state": Study.State.OPEN,
        }
        if completion_url is not None:
            defaults["completion_url"] = completion_url
        study, _ = Study.objects.update_or_create(slug=DEMO_SLUG, defaults=defaults)
        for order, (title, text) in enumerate(DEMO_QUESTIONS):
            Question.objects.update_or_create(
                study=study, title=title, defaults={"text": text, "order": order}
            )
        return study

    def seed_organizer(self, password: str | None) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(username=ORGANIZER).first()
        if user is not None and password is None:
            self.stdout.write(f"User '{ORGANIZER}' exists; password unchanged.")
            return
        if user is None:
            user = user_model(username=ORGANIZER, is_staff=True, is_superuser=True)
        new_password = password or secrets.token_urlsafe(12)
        user.set_password(new_password)
        user.save()
        if password is None:
            self.stdout.write(f"Created staff user '{ORGANIZER}' with password: {new_password}")
        else:
            self.stdout.write(f"Password set for staff user '{ORGANIZER}'.")
