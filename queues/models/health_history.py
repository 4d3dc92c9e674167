"""What the leads' queue-health and team pages read: pre-aggregated, so a 30-day chart over a million cases
reads thousands of rows, not millions (bench/dashboard_queues.py).

- `QueueSnapshot`: each queue's backlog as it stood at a minute (a beat task takes it); minute rows are kept
  `SNAPSHOT_MINUTE_DAYS`, then rolled up to one row per hour (the hour's worst backlog and oldest wait).
- `QueueIntakeHour`: cases opened and reports received per queue and hour, recomputed for the current and
  previous hour every minute (so a late commit is still counted).
- `DecisionTiming`: one row per live decision with the moments its timings need (opened, first claim, the
  decider's claim, SLA due), copied once when the decision is seen; the claim moments otherwise live only in
  the audit log, which is too big to join on every page view.
"""

from django.conf import settings
from django.db import models


class QueueSnapshot(models.Model):
    class Grain(models.TextChoices):
        MINUTE = "minute"
        HOUR = "hour"

    queue = models.ForeignKey("queues.Queue", on_delete=models.CASCADE, related_name="snapshots")
    at = models.DateTimeField()
    grain = models.CharField(max_length=6, choices=Grain.choices, default=Grain.MINUTE)
    waiting = models.PositiveIntegerField(default=0)
    in_review = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    oldest_waiting_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # One row per queue and minute (or hour): a re-run of the beat task adds nothing.
            models.UniqueConstraint(fields=["queue", "at"], name="queue_snapshot_once"),
        ]
        # The charts read a period across queues; the roll-up reads old minute rows.
        indexes = [models.Index(fields=["at", "queue"], name="queue_snapshot_at_idx")]

    def __str__(self) -> str:
        return f"{self.queue_id} at {self.at:%Y-%m-%d %H:%M}: {self.waiting} waiting"


class QueueIntakeHour(models.Model):
    queue = models.ForeignKey("queues.Queue", on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    opened = models.PositiveIntegerField(default=0)
    reports = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "hour"], name="queue_intake_hour_once")]
        indexes = [models.Index(fields=["hour", "queue"], name="queue_intake_hour_idx")]

    def __str__(self) -> str:
        return f"{self.queue_id} {self.hour:%Y-%m-%d %H}:00: {self.opened} opened"


class DecisionTiming(models.Model):
    # The decision's id, not a foreign key: decisions are immutable and this row is a copy of their moments.
    decision_id = models.BigIntegerField(primary_key=True)
    case_id = models.BigIntegerField()
    queue = models.ForeignKey("queues.Queue", null=True, on_delete=models.SET_NULL, related_name="+")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    policy_id = models.BigIntegerField()
    automated = models.BooleanField(default=False)
    # Restricted cases are counted only for leads who may see the queue (see oversight_selectors).
    is_restricted = models.BooleanField(default=False)
    decided_at = models.DateTimeField()
    opened_at = models.DateTimeField()
    first_claimed_at = models.DateTimeField(null=True)
    claimed_at = models.DateTimeField(null=True)  # the decider's last claim before deciding
    sla_due_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["decided_at", "queue"], name="decision_timing_at_idx"),
            models.Index(fields=["agent", "decided_at"], name="decision_timing_agent_idx"),
        ]

    def __str__(self) -> str:
        return f"timings of decision {self.decision_id}"


class TimingBucket(models.Model):
    """Decision timings of one queue and hour (or day), pre-aggregated for the Queue health page: counts for
    SLA attainment and duration histograms (`moderation.histograms`) for the medians and p90s. Keyed by queue
    and restriction so a lead's visible-queue scope applies as it does to the raw timings."""

    class Grain(models.TextChoices):
        HOUR = "hour"
        DAY = "day"

    queue = models.ForeignKey("queues.Queue", on_delete=models.CASCADE, related_name="+")
    is_restricted = models.BooleanField(default=False)
    grain = models.CharField(max_length=4, choices=Grain.choices)
    start = models.DateTimeField()
    decided = models.PositiveIntegerField(default=0)
    with_sla = models.PositiveIntegerField(default=0)
    late = models.PositiveIntegerField(default=0)
    first_review = models.JSONField(default=dict)  # opened -> first claim, {bin: count}
    to_decision = models.JSONField(default=dict)  # opened -> decided

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grain", "start", "queue", "is_restricted"], name="timing_bucket_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue_id} {self.grain} {self.start:%Y-%m-%d %H}:00: {self.decided} decided"


class AgentDay(models.Model):
    """One agent's day in one queue and policy, for the Team page: decisions with their handle-time
    histogram and review outcomes, skips and releases. Review states and appeals change after the day; the
    beat task recounts the days of decisions whose review or appeal it sees in the audit log."""

    day = models.DateTimeField()  # UTC midnight
    queue = models.ForeignKey("queues.Queue", on_delete=models.CASCADE, related_name="+")
    is_restricted = models.BooleanField(default=False)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    policy_id = models.BigIntegerField()
    decisions = models.PositiveIntegerField(default=0)
    handle = models.JSONField(default=dict)  # the decider's claim -> decision, {bin: count}
    reviewed = models.PositiveIntegerField(default=0)
    disagreed = models.PositiveIntegerField(default=0)
    appealed = models.PositiveIntegerField(default=0)
    judged = models.PositiveIntegerField(default=0)
    overturned = models.PositiveIntegerField(default=0)
    skips = models.PositiveIntegerField(default=0)
    releases = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "queue", "is_restricted", "agent", "policy_id"], name="agent_day_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} on {self.day:%Y-%m-%d} in {self.queue_id}: {self.decisions} decisions"
