"""Work lists agents pull cases from, who may see restricted ones, and agents' skips."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models


class Queue(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    sla_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the policy SLA for cases routed here."
    )
    is_default = models.BooleanField(default=False, help_text="Catches cases no routing rule matched.")
    is_restricted = models.BooleanField(
        default=False,
        help_text="Sensitive (e.g. child safety): a member also needs an explicit, dated clearance to see it.",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="review_queues")
    member_groups = models.ManyToManyField(Group, blank=True, related_name="review_queues")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_queue"
            ),
        ]
        permissions = [
            ("view_all_queues", "Can see and work every unrestricted queue (heads of trust & safety)"),
        ]

    def __str__(self) -> str:
        return self.name


class CaseSkip(models.Model):
    """An agent passed on a case: claim-next stops offering it to them for a while (`CASE_SKIP_HOURS`)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="case_skip_unique")]
        # The team page counts skips per agent over a period.
        indexes = [models.Index(fields=["created_at"], name="case_skip_at_idx")]

    def __str__(self) -> str:
        return f"user {self.user_id} skipped case {self.case_id}"


class QueueClearance(models.Model):
    """Explicit permission to see a restricted queue (e.g. child safety), on top of membership.

    Membership says someone works the queue; clearance says they were vetted for its content (training,
    wellness programme) and until when. Both are needed; superusers are the only exception. Granting and
    revoking happen in the admin, which audits every change.
    """

    queue = models.ForeignKey(
        Queue, on_delete=models.CASCADE, related_name="clearances", limit_choices_to={"is_restricted": True}
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_clearances"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Re-vet by then (e.g. yearly training). Empty: until revoked."
    )
    reason = models.CharField(max_length=300, blank=True, help_text="Why: training completed, ticket, etc.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "user"], name="queue_clearance_unique")]

    def __str__(self) -> str:
        return f"{self.user} cleared for {self.queue}"

    def clean(self) -> None:
        if self.queue_id and not self.queue.is_restricted:
            raise ValidationError({"queue": "Only restricted queues need a clearance."})


class EscalationRoute(models.Model):
    """Where a policy's cases are escalated first: the case page offers this queue at the top of its
    Escalate list, preselected, instead of whichever queue sorts first by name.

    Kept on the queues side (not a field of `moderation.Policy`): the platform base never imports the apps,
    and a queue is a queues concept. One route per policy; a policy without one offers the list by name."""

    policy = models.OneToOneField(
        "moderation.Policy", on_delete=models.CASCADE, related_name="escalation_route"
    )
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="escalation_routes")

    class Meta:
        verbose_name = "escalation route"

    def __str__(self) -> str:
        return f"{self.policy} → {self.queue}"
