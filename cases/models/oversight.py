"""Hourly roll-ups the lead dashboards read instead of scanning every decision and report.

At a million cases a period's reports and decisions are hundreds of thousands of rows, and counting them per
page view would break the 200 ms budget; these rows hold the counts per hour, by where the case was (queue,
restricted), so a page sums a few thousand rows and still applies the viewer's visibility. Written only by
`cases.services.oversight_rollup` (recomputed, never incremented: a refresh of the same hours writes the same
rows). Derived data: losing them loses nothing that a refresh cannot rebuild.
"""

from django.db import models

from moderation.models import Action, Policy, Vendor


class DecisionHour(models.Model):
    """Decisions made in one hour, by queue, policy, action and source (agent, automated live, shadow)."""

    class Source(models.TextChoices):
        AGENT = "agent", "Agents"
        AUTOMATED = "automated", "Automated (live)"
        SHADOW = "shadow", "Shadow (not enforced)"

    hour = models.DateTimeField()
    # No constraint: a queue's roll-up rows must not block deleting the queue, and a stale id only hides
    # rows from the people who could see that queue.
    queue = models.ForeignKey(
        "queues.Queue", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    is_restricted = models.BooleanField(default=False)
    policy = models.ForeignKey(Policy, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    action = models.ForeignKey(Action, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    decisions = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["hour"], name="decision_hour_idx")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.source}: {self.decisions}"


class ReportHour(models.Model):
    """Reports a vendor sent in one hour, and its reports judged (upheld or rejected) in that hour."""

    hour = models.DateTimeField()
    vendor = models.ForeignKey(Vendor, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    queue = models.ForeignKey(
        "queues.Queue", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    is_restricted = models.BooleanField(default=False)
    reports = models.PositiveIntegerField(default=0)
    upheld = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["hour"], name="report_hour_idx")]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h vendor {self.vendor_id}: {self.reports}"


class PerformanceDay(models.Model):
    """What one routing rule or model version did on one day, by where its cases were (queue, restricted):
    the Outcomes page's per-rule and per-model figures, which otherwise look up every case's latest human
    decision and appeal. Rebuilt by `cases.services.oversight_rollup` for the days its window touches and the
    days of rule decisions or scores on cases a person decided or an appeal resolved since."""

    class Kind(models.TextChoices):
        RULE = "rule"
        MODEL = "model"

    day = models.DateTimeField()  # UTC midnight
    queue = models.ForeignKey(
        "queues.Queue", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    is_restricted = models.BooleanField(default=False)
    kind = models.CharField(max_length=5, choices=Kind.choices)
    # The rule's or the model version's id (no constraint: a deleted one is shown as such).
    subject_id = models.BigIntegerField()
    volume = models.PositiveIntegerField(default=0)
    enforced = models.PositiveIntegerField(default=0)
    shadow = models.PositiveIntegerField(default=0)
    reviewed = models.PositiveIntegerField(default=0)
    agreed = models.PositiveIntegerField(default=0)
    upheld = models.PositiveIntegerField(default=0)
    overturned = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["day", "kind"], name="performance_day_idx")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.kind} {self.subject_id}: {self.volume}"
