"""Decisions, the strikes they give, and the appeals against them."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models.case import Case
from cases.models.subject import Subject
from moderation.models import Action, Policy, Vendor


class Decision(models.Model):
    """A verdict on a case. Immutable: a reversal is a new decision."""

    class Mode(models.TextChoices):
        LIVE = "live", _("Live")
        SHADOW = "shadow", _("Shadow (recorded, not enforced)")

    class ReviewState(models.TextChoices):
        FINAL = "final", _("Final")
        PENDING = "pending", _("Awaiting confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        OVERTURNED = "overturned", _("Overturned")
        UNDONE = "undone", _("Undone by its decider")
        REVERSED = "reversed", _("Reversed by a lead")

    # Decisions that stand (awaiting or overturned ones do not): what vendors, history and metrics read.
    IN_FORCE = ("final", "confirmed")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="decisions")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="decisions")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.LIVE)
    automated = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    rule = models.ForeignKey(
        "queues.RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    reason = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    # What the affected user is told: the admin's message template filled in, else the reason or the
    # policy's explanation. Sent in the enforcement.
    user_message = models.TextField(blank=True)
    # The evidence the decision was taken on: the subject's content version and its author. Enforcement,
    # strikes, messages and appeals use these, never whatever the subject says now.
    subject_version = models.PositiveIntegerField(null=True, blank=True)
    author_id = models.CharField(max_length=255, blank=True)
    # Four eyes: under a policy that requires a second review, an enforcing decision waits (`pending`) until
    # a different agent confirms it (`confirmed`) or decides otherwise (`overturned`); only then is anything
    # enforced. Every other decision is `final` when made.
    review_state = models.CharField(max_length=12, choices=ReviewState.choices, default=ReviewState.FINAL)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # For a timed action (a temporary suspension, a restriction for N hours): when it lapses. A beat task
    # then sends the reversing enforcement, once.
    effect_expires_at = models.DateTimeField(null=True, blank=True)
    # Second chances: the decider may undo the decision until `undo_until`; its external effects (webhooks,
    # the user's message, vendor callbacks, the DSA statement) are held back until then. NULL: no undo.
    undo_until = models.DateTimeField(null=True, blank=True)
    # What the case was before the decision resolved it, so an undo puts it back exactly there.
    status_before = models.CharField(max_length=24, blank=True)
    # Who undid or reversed it, when and why (undone / reversed states only).
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["case", "mode", "-created_at"], name="decision_case_idx"),
            models.Index(
                fields=["effect_expires_at"],
                name="decision_expiry_idx",
                condition=Q(effect_expires_at__isnull=False),
            ),
            # The Outcomes dashboard: a period's decisions by automated and shadow rules.
            models.Index(
                fields=["created_at", "rule"], name="decision_rule_time_idx", condition=Q(rule__isnull=False)
            ),
            # Roll-ups recompute the last hours of decisions.
            models.Index(fields=["created_at"], name="decision_time_idx"),
            models.Index(
                fields=["case", "decided_by"],
                name="decision_pending_idx",
                condition=Q(review_state="pending"),
            ),
        ]
        constraints = [
            # Re-routing a case never records a rule's shadow verdict twice.
            models.UniqueConstraint(
                fields=["case", "rule"], condition=Q(mode="shadow"), name="one_shadow_decision_per_rule"
            ),
            # An automated rule decides a case at most once, however often the case is re-routed.
            models.UniqueConstraint(
                fields=["case", "rule"],
                condition=Q(mode="live", automated=True),
                name="one_automated_decision_per_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} on case {self.case_id} ({self.mode})"


class Strike(models.Model):
    """A mark against an author for an enforcing decision, with the policy and an expiry (policy's
    `strike_days`). Removed, not deleted, when the decision is overturned."""

    author_id = models.CharField(max_length=255)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="strikes")
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="strike")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="strikes")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["author_id", "expires_at"],
                name="strike_active_idx",
                condition=Q(removed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"strike on {self.author_id} ({self.policy_id})"

    def is_active(self, now) -> bool:
        return self.removed_at is None and (self.expires_at is None or self.expires_at > now)


class Appeal(models.Model):
    """The affected user contests a decision: reviewed as its own case (kind `appeal`) in the appeals queue,
    never by the agents who made or confirmed the decision. Overturning reverses the enforcement and removes
    the strike."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld")
        OVERTURNED = "overturned", _("Overturned")

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="appeals")
    external_id = models.CharField(max_length=200, help_text="Idempotency key, unique per vendor.")
    decision = models.OneToOneField(
        Decision, on_delete=models.PROTECT, related_name="appeal", help_text="One appeal per decision."
    )
    appeal_case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="appeal")
    appellant_id = models.CharField(max_length=255, blank=True)
    statement = models.TextField()
    payload_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    outcome_reason = models.TextField(blank=True, help_text="Sent to the appellant.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "external_id"], name="appeal_vendor_external_id"),
        ]

    def __str__(self) -> str:
        return f"Appeal {self.pk} of decision {self.decision_id} ({self.state})"
