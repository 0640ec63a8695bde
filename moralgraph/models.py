"""Canonical values (deduplicated cards), the links from cards to them, upgrade hypotheses."""

from django.db import models

from .encoded_json import JSONTextField


class Moderation(models.TextChoices):
    """Whether text from participants or the model may be shown to other participants."""

    PENDING = "pending", "Waiting for a check or the organizer"
    PASSED = "passed", "Passed the moderation check"
    FLAGGED = "flagged", "Flagged by the check; waiting for the organizer"
    APPROVED = "approved", "Approved by the organizer"
    REJECTED = "rejected", "Rejected by the organizer"


#: The moderation states whose text voters may see.
SHOWN_TO_OTHERS = (Moderation.PASSED, Moderation.APPROVED)


def moderation_field() -> models.CharField:
    # Rows written by organizers and importers start passed; the services that store text from
    # participants (a new value from a card) or the model (a story) start them pending.
    return models.CharField(max_length=10, choices=Moderation.choices, default=Moderation.PASSED)


class CanonicalValue(models.Model):
    """Cards that mean the same thing, merged into one value: a node of the moral graph."""

    study = models.ForeignKey(
        "elicitation.Study", on_delete=models.CASCADE, related_name="canonical_values"
    )
    title = models.CharField(max_length=120)
    description = models.TextField()
    policies = models.JSONField(default=list)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_values",
        help_text="Set when an organizer merged this value into another.",
    )
    moderation = moderation_field()
    moderation_note = models.CharField(max_length=300, blank=True)
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "external_id"],
                condition=~models.Q(external_id=""),
                name="unique_canonical_external_id",
            )
        ]

    def __str__(self) -> str:
        return self.title


class CardLink(models.Model):
    """Which canonical value a participant's card was merged into, and how that was decided."""

    class Method(models.TextChoices):
        NEW = "new", "Became a new value"
        EMBEDDING = "embedding", "Near-identical embedding"
        LLM_JUDGE = "llm_judge", "LLM judge"
        MANUAL = "manual", "Organizer"
        IMPORTED = "imported", "Imported"

    card = models.OneToOneField(
        "elicitation.ValuesCard", on_delete=models.CASCADE, related_name="canonical_link"
    )
    value = models.ForeignKey(CanonicalValue, on_delete=models.CASCADE, related_name="card_links")
    method = models.CharField(max_length=12, choices=Method.choices)
    similarity = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.card_id} -> {self.value_id} ({self.method})"


class UpgradeHypothesis(models.Model):
    """ "From value A to value B in context C", with a first-person story of the move."""

    class Source(models.TextChoices):
        LLM = "llm", "Generated"
        IMPORTED = "imported", "Imported"
        MANUAL = "manual", "Organizer"

    study = models.ForeignKey(
        "elicitation.Study", on_delete=models.CASCADE, related_name="hypotheses"
    )
    context = models.ForeignKey(
        "elicitation.Context", on_delete=models.CASCADE, related_name="hypotheses"
    )
    from_value = models.ForeignKey(
        CanonicalValue, on_delete=models.CASCADE, related_name="upgrades_from"
    )
    to_value = models.ForeignKey(
        CanonicalValue, on_delete=models.CASCADE, related_name="upgrades_to"
    )
    story = models.TextField(blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.LLM)
    prompt_version = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(
        default=True, help_text="Inactive ones are not shown to voters."
    )
    moderation = moderation_field()
    moderation_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "upgrade hypotheses"
        ordering = ["study", "context", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["context", "from_value", "to_value"], name="unique_hypothesis_edge"
            ),
            models.CheckConstraint(
                condition=~models.Q(from_value=models.F("to_value")), name="hypothesis_not_a_loop"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_value} -> {self.to_value} ({self.context})"


class GraphBuild(models.Model):
    """One computed moral graph of a study, stored in pieces that a page can read alone: a small
    ``summary`` here, and a :class:`GraphBuildSection` per context and one for the global graph
    (see :func:`moralgraph.core.split_result`)."""

    study = models.ForeignKey(
        "elicitation.Study", on_delete=models.CASCADE, related_name="graph_builds"
    )
    summary = models.JSONField(
        help_text="Counts, config, reliability, bridging groups and an index of the contexts."
    )
    graph_version = models.CharField(
        max_length=64,
        help_text="SHA-256 of the result's compact JSON, head then each section in order.",
    )
    config = models.JSONField(default=dict, blank=True)
    built_at = models.DateTimeField(auto_now_add=True)
    label = models.CharField(
        max_length=80, blank=True, help_text="The organizer's name for it, e.g. a wave."
    )

    class Meta:
        ordering = ["-built_at", "-id"]
        indexes = [models.Index(fields=["study", "built_at"])]

    def __str__(self) -> str:
        return f"{self.study} graph {self.graph_version[:12]}"


class GraphBuildSection(models.Model):
    """One context of a build (edges, rankings, Bradley-Terry, contested sets, winner), or its
    global graph, with the titles of the values it names."""

    build = models.ForeignKey(GraphBuild, on_delete=models.CASCADE, related_name="sections")
    key = models.CharField(max_length=100, help_text='"context:<id>" or "global".')
    data = JSONTextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["build", "key"], name="unique_graph_build_section")
        ]

    def __str__(self) -> str:
        return f"{self.build} {self.key}"


class RaterExclusion(models.Model):
    """A cohort of raters the organizer left out of graph builds: everyone carrying a flag, or
    everyone from one client (by its keyed address hash)."""

    class Kind(models.TextChoices):
        FLAG = "flag", "Raters with a flag"
        CLIENT = "client", "Raters from one client"

    study = models.ForeignKey(
        "elicitation.Study", on_delete=models.CASCADE, related_name="rater_exclusions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.CharField(max_length=64, help_text="The flag's name, or the client hash.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "kind", "value"], name="unique_rater_exclusion"
            )
        ]

    def __str__(self) -> str:
        return f"{self.study} without {self.kind} {self.value}"
