"""Participant-facing records: studies, participants, interviews, messages, values cards."""

import secrets

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse


def new_participant_token() -> str:
    return secrets.token_urlsafe(24)


class Study(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Admission(models.TextChoices):
        OPEN_LINK = "open", "Open link (anyone with the address)"
        PROLIFIC = "prolific", "Prolific only"
        INVITE = "invite", "Invite links"

    class Acquiescence(models.TextChoices):
        SHARED = "shared", "One for the study (as MAI)"
        PER_CONTEXT = "per_context", "One per context (incremental builds)"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    consent_text = models.TextField(
        blank=True,
        help_text="Shown on the landing page; the participant must agree before starting.",
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    llm_model = models.CharField(
        max_length=100, blank=True, help_text="Empty: the LLM_MODEL setting."
    )
    ask_demographics = models.BooleanField(default=True)
    completion_url = models.URLField(
        blank=True,
        help_text="Where recruited participants go at the end, e.g. Prolific's completion URL.",
    )
    completion_code = models.CharField(max_length=64, blank=True)
    token_budget = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Total LLM tokens this study may spend; empty: no cap."
    )
    refresh_every_cards = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Update values, contexts and hypotheses after this many new confirmed cards; "
        "empty: not by count.",
    )
    refresh_every_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Also update them this many minutes after the last update when cards are "
        "waiting; empty: not by time.",
    )
    refreshed_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the last update started."
    )
    tokens_spent = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="Running total of LLM tokens, in and out."
    )
    admission = models.CharField(
        max_length=10,
        choices=Admission.choices,
        default=Admission.OPEN_LINK,
        help_text="Who may join: anyone with the link, Prolific participants, or invitees.",
    )
    prolific_study_id = models.CharField(
        max_length=64,
        blank=True,
        verbose_name="Prolific STUDY_ID",
        help_text="Prolific only: the STUDY_ID that Prolific adds to the study link.",
    )
    completion_min_messages = models.PositiveSmallIntegerField(
        default=2,
        help_text="Messages a participant must write in an interview for its card to count.",
    )
    completion_min_votes = models.PositiveSmallIntegerField(
        default=3,
        help_text="Votes needed to complete, when there are comparisons to vote on.",
    )
    card_button_after = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1)],
        help_text='Participant messages before the "Make my card" button appears.',
    )
    max_participant_messages = models.PositiveSmallIntegerField(
        default=10,
        validators=[MinValueValidator(1)],
        help_text="After this many participant messages the chat ends and the card is written.",
    )
    graph_acquiescence = models.CharField(
        max_length=12,
        choices=Acquiescence.choices,
        default=Acquiescence.SHARED,
        verbose_name="Acquiescence in graph builds",
        help_text="Bradley-Terry's tendency to agree with any story shown: one term for the "
        "whole study, as in MAI's study, or one per context, which lets a build keep the "
        "intervals of every context that no new vote touched (much faster on a large study).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("elicitation:landing", kwargs={"slug": self.slug})

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN

    @property
    def model_name(self) -> str:
        return self.llm_model or settings.LLM_MODEL


class Question(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="questions")
    title = models.CharField(max_length=120, help_text="Short label, e.g. 'abortion'.")
    text = models.TextField(help_text="The prompt a user might send an AI.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["study", "order", "id"]

    def __str__(self) -> str:
        return self.title or self.text[:60]


class Participant(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="participants")
    token = models.CharField(max_length=64, unique=True, default=new_participant_token)
    prolific_pid = models.CharField(max_length=64, blank=True, db_index=True)
    prolific_study_id = models.CharField(max_length=64, blank=True)
    prolific_session_id = models.CharField(max_length=64, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    demographics = models.JSONField(default=dict, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    feedback = models.JSONField(
        default=dict, blank=True, help_text="Answers to the closing questions (fairness...)."
    )
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    client_hash = models.CharField(
        max_length=32, blank=True, db_index=True, help_text="Keyed hash of the client address."
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    pid_released = models.BooleanField(
        default=False, help_text="The next browser with this Prolific PID takes the record over."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.prolific_pid or f"participant {self.pk}"

    @property
    def is_recruited(self) -> bool:
        return bool(self.prolific_pid)


def new_invite_token() -> str:
    return secrets.token_urlsafe(18)


class Invite(models.Model):
    """A single-use admission to an invite-only study, consumed by the first browser to use it."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="invites")
    token = models.CharField(max_length=32, unique=True, default=new_invite_token)
    participant = models.OneToOneField(
        Participant, null=True, blank=True, on_delete=models.SET_NULL, related_name="invite"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"invite {self.pk} ({'used' if self.used_at else 'unused'})"


class Interview(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Chatting"
        CARD_PROPOSED = "card_proposed", "Card proposed"
        GUIDED = "guided", "Guided form (LLM unavailable)"
        COMPLETED = "completed", "Card confirmed"

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="interviews"
    )
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="interviews")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    model = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=64, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "question"], name="one_interview_per_question"
            )
        ]

    def __str__(self) -> str:
        return f"interview {self.pk} ({self.participant}, {self.question})"

    def get_absolute_url(self) -> str:
        return reverse("elicitation:interview", kwargs={"pk": self.pk})


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "Participant"
        ASSISTANT = "assistant", "Interviewer"
        TOOL = "tool", "Tool result"

    interview = models.ForeignKey(Interview, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    client_id = models.CharField(
        max_length=64, blank=True, help_text="Idempotency key sent by the browser."
    )
    tool_calls = models.JSONField(default=list, blank=True)
    tool_call_id = models.CharField(max_length=100, blank=True)
    is_complete = models.BooleanField(
        default=True, help_text="False for a reply cut off when the stream died."
    )
    llm_call = models.ForeignKey(
        "LLMCall", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["interview", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["interview", "client_id"],
                condition=~models.Q(client_id=""),
                name="unique_client_message",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:60]}"


class Context(models.Model):
    """A short "When ..." phrase naming a kind of choice; values apply in contexts."""

    class Source(models.TextChoices):
        ORGANIZER = "organizer", "Organizer"
        PROPOSED = "proposed", "Proposed by the LLM"
        INTERVIEW = "interview", "Written in an interview"
        IMPORTED = "imported", "Imported"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="contexts")
    name = models.CharField(max_length=300)
    questions = models.ManyToManyField(Question, blank=True, related_name="contexts")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.IMPORTED)
    pending = models.BooleanField(
        default=False,
        help_text="New wording from an interview, not yet matched to the question's contexts.",
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_contexts",
        help_text="Set when this wording was found to mean another context.",
    )
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=100, blank=True)
    cards_moved_at = models.DateTimeField(
        null=True, blank=True, help_text="When cards of merged contexts last moved here."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "name"]
        constraints = [
            models.UniqueConstraint(fields=["study", "name"], name="unique_context_name")
        ]

    def __str__(self) -> str:
        return self.name

    def live(self) -> "Context":
        """This context, or the one it was merged into (followed to the end of the chain)."""
        context, seen = self, {self.pk}
        while context.merged_into_id and context.merged_into_id not in seen:
            seen.add(context.merged_into_id)
            context = context.merged_into
        return context


class ValuesCard(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        CONFIRMED = "confirmed", "Confirmed"

    class Source(models.TextChoices):
        INTERVIEW = "interview", "Interview"
        GUIDED = "guided", "Guided form"
        IMPORTED = "imported", "Imported"

    interview = models.OneToOneField(
        Interview, null=True, blank=True, on_delete=models.CASCADE, related_name="card"
    )
    participant = models.ForeignKey(
        Participant, null=True, blank=True, on_delete=models.CASCADE, related_name="cards"
    )
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="cards")
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.PROTECT, related_name="cards"
    )
    title = models.CharField(max_length=120)
    description = models.TextField()
    policies = models.JSONField(default=list)
    context = models.ForeignKey(
        Context, null=True, blank=True, on_delete=models.SET_NULL, related_name="cards"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.INTERVIEW)
    history = models.JSONField(
        default=list, blank=True, help_text="Earlier versions, oldest first, with who changed it."
    )
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def snapshot(self) -> dict:
        return {
            "title": self.title,
            "description": self.description,
            "policies": list(self.policies),
            "context": self.context.name if self.context_id else "",
        }


class LLMCall(models.Model):
    """One request to the model, successful or not: what it cost and how long it took."""

    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_calls"
    )
    interview = models.ForeignKey(
        Interview, null=True, blank=True, on_delete=models.SET_NULL, related_name="llm_calls"
    )
    purpose = models.CharField(max_length=50)
    model = models.CharField(max_length=100)
    prompt_name = models.CharField(max_length=100, blank=True)
    prompt_version = models.CharField(max_length=64, blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, help_text="Empty: price not set."
    )
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "LLM call"

    def __str__(self) -> str:
        status = "failed" if self.error else "ok"
        return f"{self.purpose} {self.model} ({status})"


class LLMEndpoint(models.Model):
    """What an endpoint + model was found to support (None: not checked yet)."""

    base_url = models.CharField(max_length=300, blank=True, help_text="Empty: OpenAI.")
    model = models.CharField(max_length=100)
    streaming = models.BooleanField(null=True)
    tools = models.BooleanField(null=True)
    forced_tool = models.BooleanField(null=True)
    json_schema = models.BooleanField(null=True)
    notes = models.TextField(blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["base_url", "model"], name="unique_llm_endpoint")
        ]
        verbose_name = "LLM endpoint"

    def __str__(self) -> str:
        return f"{self.model} at {self.base_url or 'OpenAI'}"


class WisdomVote(models.Model):
    """A participant's judgement of one upgrade hypothesis: is the target value wiser?"""

    class Answer(models.TextChoices):
        WISER = "wiser", "Yes, wiser"
        NOT_WISER = "not_wiser", "No, not wiser"
        LESS_WISE = "less_wise", "Less wise"
        UNSURE = "unsure", "Not sure"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="votes")
    hypothesis = models.ForeignKey(
        "moralgraph.UpgradeHypothesis", on_delete=models.CASCADE, related_name="votes"
    )
    answer = models.CharField(max_length=10, choices=Answer.choices)
    reason = models.TextField(blank=True)
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "hypothesis"], name="one_vote_per_hypothesis"
            )
        ]

    def __str__(self) -> str:
        return f"{self.participant} on {self.hypothesis_id}: {self.answer}"


class Impression(models.Model):
    """Something shown to a participant, and where: a hypothesis, or (MAI's older design) a
    card among others in a draw."""

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="impressions"
    )
    hypothesis = models.ForeignKey(
        "moralgraph.UpgradeHypothesis",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="impressions",
    )
    card = models.ForeignKey(
        ValuesCard, null=True, blank=True, on_delete=models.CASCADE, related_name="impressions"
    )
    draw_id = models.CharField(max_length=64, blank=True, db_index=True)
    position = models.PositiveSmallIntegerField(default=0)
    chosen = models.BooleanField(default=False)
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    shown_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"impression {self.pk} for {self.participant_id}"
