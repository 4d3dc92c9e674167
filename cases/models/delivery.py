"""Signed webhooks that must arrive exactly once in effect: enforcements and vendor callbacks."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models.case import Case
from cases.models.decision import Decision
from moderation.models import Vendor


class OutboxMessage(models.Model):
    """A signed webhook that must arrive exactly once in effect: an enforcement or a vendor callback.

    The body and idempotency key are fixed when the row is created, so every attempt sends the same bytes and
    the receiver can deduplicate on the key. `cases.services.outbox` creates, claims, delivers, backs off,
    sweeps and retries both kinds; this row is the only place that says what happens next:

    - `next_attempt_at`: when the delivery task that holds the row is due to try it (set at creation, after a
      transient failure to the backoff, on a lead's retry). NULL while pending means no task holds it (the
      broker refused it): the next sweep takes it.
    - `claimed_until`: set by compare-and-set by the one worker about to make the HTTP call, for longer than
      that call can take; no other worker (a sweeper's task, a duplicated message) claims the row until then.
      Its value is the claim: the outcome is recorded only if the row still carries it.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        # Never to be sent: its decision was undone inside the undo window, before any attempt.
        CANCELLED = "cancelled", _("Cancelled")

    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    idempotency_key = models.CharField(max_length=80, unique=True)
    payload = models.JSONField(help_text="The webhook body, fixed at creation.")
    attempts = models.PositiveIntegerField(default=0)
    # Attempts made before the last lead retry: a retry gets the kind's full number of attempts again. A
    # database default too, so processes still running the code before this column can insert rows.
    attempts_before_retry = models.PositiveIntegerField(default=0, db_default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # Held back for the decision's undo window: no task holds the row; once this time has passed the release
    # sweeper (`outbox.release_held`) enqueues it. NULL: not held.
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]


class Enforcement(OutboxMessage):
    """Delivery of a decision to the platform by signed webhook. One per (decision, kind); retried until
    delivered or given up (`failed`, retryable by a lead)."""

    class Kind(models.TextChoices):
        APPLY = "apply", _("Apply")
        REVERSE = "reverse", _("Reverse (undo)")

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="enforcements")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="enforcements")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.APPLY)

    class Meta(OutboxMessage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["decision", "kind"], name="one_enforcement_per_decision_kind"),
        ]
        permissions = [
            ("retry_enforcement", "Can retry failed deliveries: enforcements and vendor callbacks (leads)"),
            ("bulk_decide", "Can decide many cases at once (leads)"),
            ("reverse_decision", "Can reopen or reverse a decision outside appeals (leads)"),
            ("reassign_case", "Can take over or reassign a case another agent holds (leads)"),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="enforcement_state_idx"),
            models.Index(fields=["case", "created_at"], name="enforcement_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} decision {self.decision_id} ({self.state})"


class VendorCallback(OutboxMessage):
    """The outcome of a case, sent to a vendor that is a party to it (a report of theirs brought content) and
    has a callback URL. One per (decision, vendor)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="vendor_callbacks")
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="vendor_callbacks")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="vendor_callbacks")

    class Meta(OutboxMessage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["decision", "vendor"], name="one_vendor_callback_per_decision"),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="vendor_callback_state_idx"),
            models.Index(fields=["case", "created_at"], name="vendor_callback_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} ({self.state})"
