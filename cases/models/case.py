"""Cases: the unit of review, with the notes and presence around it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models.subject import Subject
from moderation.models import Policy

# Unassigned cases an agent can claim from a queue: new ones, ones escalated to it, any left "in review"
# by nobody (its holder's account was deleted: `assignee` is SET_NULL), so no case is ever stranded, and
# first decisions awaiting a second reviewer (never offered to the agent who made them).
CLAIMABLE_STATUSES = ("open", "in_review", "escalated", "pending_confirmation")


class Case(models.Model):
    """The unit of review: all open reports on one subject."""

    class Status(models.TextChoices):
        # Labels as Django derived them before they were marked for translation (so no migration).
        OPEN = "open", _("Open")
        IN_REVIEW = "in_review", _("In Review")
        ESCALATED = "escalated", _("Escalated")
        PENDING_CONFIRMATION = "pending_confirmation", _("Awaiting confirmation")
        RESOLVED = "resolved", _("Resolved")

    class Kind(models.TextChoices):
        REPORT = "report", _("Reports")
        APPEAL = "appeal", _("Appeal")
        # History brought from a previous tool (`import_decisions`): closed, labelled, never enforced.
        IMPORTED = "imported", _("Imported decision")

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REPORT)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN)
    # The most severe policy among the case's reports.
    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    queue = models.ForeignKey(
        "queues.Queue", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    priority = models.FloatField(default=0.0)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Indexed below by `case_assignee_idx` (only assigned cases: a small index).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
        db_index=False,
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(
        default=1,
        help_text="Optimistic lock: bumped when the case is claimed, decided, escalated or moved.",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Strongest ML or vendor score, kept by routing so queue filters and sorts need no join.
    max_score = models.FloatField(null=True, blank=True)
    report_count = models.PositiveIntegerField(default=0)
    reporter_count = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(auto_now_add=True)
    last_reported_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    enriched_at = models.DateTimeField(null=True, blank=True)
    routed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Which routing rule placed the case.
    routed_by_rule = models.ForeignKey(
        "queues.RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Reported under a restricted policy, or on a restricted subject (sticky): seen only in restricted queues
    # by people cleared for them, never moved to an open queue (`queues.selectors.visible_cases`).
    is_restricted = models.BooleanField(default=False)
    # {"done": [source keys], "errors": {source key: message}, "attempts": n}; shown to agents and leads.
    enrichment_state = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # At most one case under review per subject: concurrent reports on a new subject meet here.
            # Appeal cases are outside it: a subject can have an open report case and open appeals (one per
            # appealed decision, which Appeal.decision enforces).
            models.UniqueConstraint(
                fields=["subject"],
                condition=~Q(status="resolved") & Q(kind="report"),
                name="one_open_case_per_subject",
            ),
            models.CheckConstraint(condition=Q(priority__gte=0), name="case_priority_non_negative"),
        ]
        indexes = [
            # Claim-next: highest priority, then oldest, among unassigned open or escalated cases of a queue.
            # On PostgreSQL it also carries is_restricted (INCLUDE, migration 0037_scale) so the queue page's
            # capped count of waiting cases is index-only.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "opened_at",
                name="case_claimable_idx",
                condition=Q(status__in=CLAIMABLE_STATUSES, assignee__isnull=True),
            ),
            # "Which cases does this agent hold (in this queue)": resume on claim-next, the dashboard.
            models.Index(
                fields=["assignee", "queue"], name="case_assignee_idx", condition=Q(assignee__isnull=False)
            ),
            # Leases that ran out: the claim path and the sweeper return them to the queue.
            models.Index(
                fields=["lease_expires_at"],
                name="case_lease_idx",
                condition=Q(assignee__isnull=False) & ~Q(status="resolved"),
            ),
            # The queue page's other orderings over unresolved cases. Its default (waiting cases by priority)
            # is the claim index above; a second index on the same columns would tie with it and the planner
            # may then pick the one that also holds claimed cases, slowing claim-next (bench/claim.py).
            models.Index(
                fields=["queue", "opened_at"], name="case_queue_age_idx", condition=~Q(status="resolved")
            ),
            models.Index(
                fields=["queue", "sla_due_at"], name="case_queue_sla_idx", condition=~Q(status="resolved")
            ),
            models.Index(
                fields=["queue", "last_reported_at"],
                name="case_queue_reported_idx",
                condition=~Q(status="resolved"),
            ),
            # The queue page's "most reports" sort over unresolved cases (a sort of a whole queue otherwise). Not
            # resolved cases by priority have no index of their own: it would tie with the claim index above
            # and claim-next's plan then picks it (tests/queues/test_query_plans.py).
            models.Index(
                "queue",
                models.F("report_count").desc(),
                "opened_at",
                name="case_queue_reports_idx",
                condition=~Q(status="resolved"),
            ),
            # The sweeper's look-up of cases that never got routed.
            models.Index(fields=["opened_at"], name="case_unrouted_idx", condition=Q(routed_at__isnull=True)),
            models.Index(fields=["status", "sla_due_at"], name="case_status_sla_idx"),
            # Roll-ups recompute the reports judged in the last hours (Reporters & vendors accuracy).
            models.Index(
                fields=["resolved_at"], name="case_resolved_idx", condition=Q(resolved_at__isnull=False)
            ),
            # Retention: resolved cases past their policy's clock (`cases.retention_selectors`), one range
            # per policy with a retention.
            models.Index(
                fields=["policy", "resolved_at"], name="case_retention_idx", condition=Q(status="resolved")
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED

    def is_overdue(self, now) -> bool:
        return self.is_open and self.sla_due_at is not None and self.sla_due_at < now

    def lease_is_live(self, now) -> bool:
        return (
            self.assignee_id is not None and self.lease_expires_at is not None and self.lease_expires_at > now
        )


class CaseNote(models.Model):
    """An internal note on a case, for the team only (never sent to the user or the reporter)."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        ESCALATION = "escalation", _("Escalation")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NOTE)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="case_note_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"


class CaseViewer(models.Model):
    """Presence: who has a case page open. Refreshed by the page's heartbeat; stale rows mean gone."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="viewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="case_viewer_unique")]

    def __str__(self) -> str:
        return f"user {self.user_id} on case {self.case_id}"
