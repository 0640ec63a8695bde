"""Background jobs an organizer starts from the dashboard, with their progress and result."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Job(models.Model):
    """One run of a background job on one study: what it is doing, how far along, how it ended."""

    class Kind(models.TextChoices):
        DEDUPE = "dedupe", "Deduplicate cards"
        HYPOTHESES = "hypotheses", "Generate upgrade hypotheses"
        AGGREGATE = "aggregate", "Build the moral graph"
        EXPORT = "export", "Export the alignment target"
        SIMULATE = "simulate", "Simulate participants"
        REFRESH = "refresh", "Update values, contexts and hypotheses"
        CONTEXTS = "contexts", "Propose contexts"
        LLM_CHECK = "llm_check", "Test the LLM"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    study = models.ForeignKey("elicitation.Study", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    params = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Runs started so far.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["study", "kind", "state"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.state})"

    @property
    def percent(self) -> int | None:
        """0-100 while the total is known, else None."""
        if not self.progress_total:
            return 100 if self.state == self.State.DONE else None
        return min(100, round(100 * self.progress_done / self.progress_total))

    @property
    def param_rows(self) -> list[tuple[str, object]]:
        """The parameters as (label, value) rows: ``include_votes`` reads "Include votes"."""
        return [(name.replace("_", " ").capitalize(), value) for name, value in self.params.items()]

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def is_stale(self) -> bool:
        """Unfinished with no progress for MGE_JOB_STALE_SECONDS: its worker is likely gone."""
        if self.is_finished or self.updated_at is None:
            return False
        return timezone.now() - self.updated_at > timedelta(seconds=settings.MGE_JOB_STALE_SECONDS)

    @property
    def shown_state(self) -> str:
        """The state as an organizer should read it: a stale job is "interrupted"."""
        return "interrupted" if self.is_stale else self.state

    @property
    def duration_text(self) -> str:
        """Time from start to finish (or to now while it runs), e.g. "4.2 s", "3 min 5 s"."""
        if self.started_at is None:
            return ""
        seconds = ((self.finished_at or timezone.now()) - self.started_at).total_seconds()
        if seconds < 60:
            return f"{seconds:.1f} s"
        minutes, seconds = divmod(round(seconds), 60)
        if minutes < 60:
            return f"{minutes} min {seconds} s"
        return f"{minutes // 60} h {minutes % 60} min"
