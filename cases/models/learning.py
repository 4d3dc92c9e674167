"""What learning from decisions stores: trained model versions and what each one saw when it scored a case."""

from django.db import models
from django.db.models import Q

from cases.models.case import Case
from moderation.models import Policy


class ModelVersion(models.Model):
    """One trained classifier for one policy's yes/no task, with its evaluation and its fitted artefact.

    The artefact is our own pickle, kept in the database (no file to swap under us); its SHA-256 is recorded
    at training and checked before every load, so a row edited behind the service's back is refused, never
    unpickled. State moves candidate -> shadow -> live -> retired only through `cases.services.model_registry`.
    """

    class State(models.TextChoices):
        CANDIDATE = "candidate", "Candidate (trained, not scoring)"
        SHADOW = "shadow", "Shadow (scores recorded, no rule reads them)"
        LIVE = "live", "Live"
        RETIRED = "retired", "Retired"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="model_versions")
    version = models.CharField(max_length=64, unique=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.CANDIDATE)
    algorithm = models.CharField(max_length=120)
    artefact = models.BinaryField()
    artefact_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True)
    threshold = models.FloatField(null=True, blank=True, help_text="Score reaching the target precision.")
    target_precision = models.FloatField(default=0.9)
    label_counts = models.JSONField(default=dict, blank=True)
    # The held-out window: promotion compares candidate and live model on exactly these labels.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    held_out_from = models.DateTimeField(null=True, blank=True)
    trained_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            # One live model per policy: what the scorer serves is never ambiguous.
            models.UniqueConstraint(
                fields=["policy"], condition=Q(state="live"), name="one_live_model_per_policy"
            ),
        ]
        indexes = [models.Index(fields=["policy", "state"], name="model_version_state_idx")]

    def __str__(self) -> str:
        return f"{self.version} ({self.state})"

    # Within this distance of the threshold the model is unsure: the case page says so, routing boosts it.
    UNSURE_BAND = 0.1
    UNSURE_PRIORITY_BOOST = 10.0

    def is_unsure(self, score: float) -> bool:
        return self.threshold is not None and abs(score - self.threshold) <= self.UNSURE_BAND

    # A live rule says one thing and this model, past its threshold, the other: one of them is wrong, and a
    # person's decision settles it (and is the label the model learns most from). Worth more than "unsure".
    DISAGREEMENT_PRIORITY_BOOST = 15.0

    def disagrees(self, score: float, violating: bool) -> bool:
        """The score is on the other side of the threshold from a rule's verdict (`violating`)."""
        return self.threshold is not None and (score >= self.threshold) != violating


class ScoringRecord(models.Model):
    """The features a model scored a case on, as they stood then: enough to rebuild the training row and to
    check (by hash) that training sees exactly what serving saw."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="scoring_records")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="scoring_records")
    scored_at = models.DateTimeField()
    content_version = models.PositiveIntegerField()
    feature_hash = models.CharField(max_length=64)
    inputs = models.JSONField(default=dict, help_text="The numeric and categorical features (text by hash).")
    score = models.FloatField()
    is_shadow = models.BooleanField(default=False)

    class Meta:
        ordering = ["-scored_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "model_version", "content_version"], name="one_scoring_per_model_version"
            ),
        ]
        # The Outcomes dashboard: a period's scores per model.
        indexes = [models.Index(fields=["scored_at", "model_version"], name="scoring_time_idx")]

    def __str__(self) -> str:
        return f"case {self.case_id} by {self.model_version_id}: {self.score:.3f}"
