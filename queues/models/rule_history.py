"""What a routing rule was, what it matched, and the changes waiting for a second admin.

- `RoutingRuleVersion`: a snapshot of the rule after every change (who, when, state, conditions, outcome).
- `RuleMatch`: one row per (rule, case, rule version) that routing matched, live or shadow, with what came
  of it. It feeds the daily caps' audit trail, the surge baselines, backtests against reality and the lead
  dashboard.
- `RuleAutomationDay`: the counter row a daily cap is taken from (compare-and-set, so two workers can never
  both take the last slot).
- `RuleChangeRequest`: a change that would raise a live rule's automatic decisions too much, held until a
  different admin approves it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from queues.models.rules import RoutingRule

SNAPSHOT_FIELDS = (
    "name",
    "position",
    "state",
    "description",
    "subject_kinds",
    "languages",
    "priority_boost",
    "sla_hours_override",
    "automation_mode",
    "max_automated_per_day",
)
SNAPSHOT_FOREIGN_KEYS = ("target_queue", "auto_policy", "auto_action")
CONDITION_FIELDS = ("source", "source_name", "label", "operator", "threshold")


def snapshot_of(rule: RoutingRule) -> dict:
    """Everything that decides what the rule matches and does, as JSON (ids for what it refers to).

    Reads the rule's policies, vendors and conditions from the database (not a stale prefetch), so call it
    after the admin's inlines are saved.
    """
    snapshot = {name: getattr(rule, name) for name in SNAPSHOT_FIELDS}
    snapshot |= {name: getattr(rule, f"{name}_id") for name in SNAPSHOT_FOREIGN_KEYS}
    snapshot["policies"] = sorted(
        rule.policies.through.objects.filter(routingrule_id=rule.pk).values_list("policy_id", flat=True)
    )
    snapshot["vendors"] = sorted(
        rule.vendors.through.objects.filter(routingrule_id=rule.pk).values_list("vendor_id", flat=True)
    )
    snapshot["conditions"] = [
        dict(zip(CONDITION_FIELDS, row, strict=True))
        for row in rule.score_conditions.model.objects.filter(rule_id=rule.pk)
        .order_by("id")
        .values_list(*CONDITION_FIELDS)
    ]
    return snapshot


def behaviour_of(snapshot: dict | None) -> dict:
    """The snapshot without what does not change behaviour (name, description, position, state)."""
    if snapshot is None:
        return {}
    return {k: v for k, v in snapshot.items() if k not in ("name", "description", "position", "state")}


class RoutingRuleVersion(models.Model):
    """The rule as it was after one change. Written by `queues.services.rule_changes`, never edited."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    state = models.CharField(max_length=8, choices=RoutingRule.State.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_by_system = models.CharField(max_length=60, blank=True, help_text="e.g. rule-guard (auto-pause)")
    changed_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["rule", "-number"]
        constraints = [models.UniqueConstraint(fields=["rule", "number"], name="rule_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.number} ({self.state})"


class RuleMatch(models.Model):
    """A rule matched a case: in which mode, under which version, and what came of it."""

    class Mode(models.TextChoices):
        LIVE = "live"
        SHADOW = "shadow"

    class Outcome(models.TextChoices):
        ROUTED = "routed", "Routed the case"
        DECIDED = "decided", "Decided automatically"
        WOULD_ROUTE = "would_route", "Would have routed (shadow)"
        WOULD_DECIDE = "would_decide", "Would have decided (shadow)"
        CAPPED = "capped", "Daily cap reached: sent to people"
        PROTECTED = "protected", "Protected subject: sent to people"
        SKIPPED = "skipped", "Passed over (case held or already decided)"
        SAMPLED = "sampled", "Drawn for the review sample: sent to people"

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="matches")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    rule_version = models.PositiveIntegerField()
    mode = models.CharField(max_length=8, choices=Mode.choices)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    # Where it sent (or would have sent) the case, and the action it took (or would have taken).
    queue = models.ForeignKey(
        "queues.Queue", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.ForeignKey(
        "moderation.Action", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    matched_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "case", "rule_version"], name="rule_match_once_per_version"
            )
        ]
        indexes = [models.Index(fields=["rule", "matched_at"], name="rule_match_time_idx")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} v{self.rule_version} {self.outcome} case {self.case_id}"


class RuleAutomationDay(models.Model):
    """Automatic decisions a rule made on one UTC day: the daily cap is taken from this row."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    decided = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "day"], name="rule_automation_day_unique")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} on {self.day}: {self.decided} automatic decisions"


class RuleChangeRequest(models.Model):
    """A proposed rule (snapshot) that would raise automatic decisions too much: waits for a second admin."""

    class State(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"
        REJECTED = "rejected"

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="change_requests")
    base_version = models.PositiveIntegerField(help_text="The rule version the change was made against.")
    proposed = models.JSONField()
    current_per_day = models.FloatField(help_text="Automatic decisions a day, current version (backtest).")
    proposed_per_day = models.FloatField(help_text="Automatic decisions a day, proposed version (backtest).")
    backtest_days = models.PositiveIntegerField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open question per rule: a second proposal replaces nothing silently.
            models.UniqueConstraint(
                fields=["rule"], condition=Q(state="pending"), name="one_pending_change_per_rule"
            )
        ]

    def __str__(self) -> str:
        return f"change to rule {self.rule_id} ({self.state})"
