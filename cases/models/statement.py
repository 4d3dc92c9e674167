"""EU DSA statements of reasons: one per restricting decision, sent to the Transparency Database."""

from django.db import models
from django.db.models import Q

from cases.models.case import Case
from cases.models.decision import Decision


class StatementOfReasons(models.Model):
    """What the EU Transparency Database is told about one restriction (Art. 17 and 24(5) DSA).

    `payload` is the statement exactly as submitted (and exported), fixed at creation; it carries no
    personal data (no author, reporter or agent, no content text). `puid` is derived from the decision id,
    so a re-sent statement is recognised by the TDB (a duplicate answer means it is already there).

    Submission follows the outbox's discipline (`cases.services.statement_submission`): a batch is claimed
    by compare-and-set (`claim_token`, `claimed_until`) before the HTTP call, retried with backoff after a
    transient failure (`next_attempt_at`), and `failed` rows wait for a lead's retry.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SUBMITTED = "submitted"
        FAILED = "failed"

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="statement")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="statements")
    puid = models.CharField(max_length=500, unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    payload = models.JSONField(help_text="The statement as submitted to the Transparency Database.")
    # The rules it broke when built (never sent until fixed and retried), or the TDB's refusal.
    validation_errors = models.JSONField(default=dict, blank=True)
    # Kept as columns for the transparency report (counted without reading JSON).
    decision_ground = models.CharField(max_length=40)
    source_type = models.CharField(max_length=40)
    automated_decision = models.CharField(max_length=40)
    automated_detection = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    attempts_before_retry = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    duplicate = models.BooleanField(default=False, help_text="The TDB already had this puid.")
    tdb_uuid = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "statement of reasons"
        verbose_name_plural = "statements of reasons"
        indexes = [
            models.Index(
                fields=["state", "next_attempt_at"], name="statement_due_idx", condition=Q(state="pending")
            ),
            models.Index(fields=["created_at"], name="statement_created_idx"),
            models.Index(fields=["state", "created_at"], name="statement_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(puid__regex=r"^[a-zA-Z0-9_-]+$"), name="statement_puid_charset"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.puid} ({self.state})"
