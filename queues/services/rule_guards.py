"""Blast-radius guards for rules that act on their own: the daily cap and the surge auto-pause.

- Daily cap: a live automatic rule takes a slot from its `RuleAutomationDay` row for today (UTC) before it
  decides. The slot is taken by compare-and-set (`UPDATE … SET decided = decided + 1 WHERE decided < cap`,
  one row counted): two workers racing for the last slot serialise on that row and only one sees a row
  updated, on PostgreSQL and SQLite alike. A rule without a slot sends the case to people. The same UPDATE
  checks that the rule is still live, automatic and at the version the worker evaluated: workers cache rules
  for CONFIG_CACHE_SECONDS, and a rule paused (by an admin, or by the surge guard mid-surge) or changed in
  another process must not go on deciding from a stale copy.
- Surge auto-pause (beat): a live rule whose matches in the last hour exceed RULE_SURGE_FACTOR x its mean
  hourly matches over the previous RULE_SURGE_BASELINE_DAYS days (and at least RULE_SURGE_MIN_MATCHES) is
  paused by the system, audited, and shown to leads on their dashboard.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from queues.models import RoutingRule, RuleAutomationDay, RuleMatch
from queues.services.rule_changes import pause_rule_automatically

logger = logging.getLogger(__name__)


def daily_cap(rule: RoutingRule) -> int:
    return (
        rule.max_automated_per_day
        if rule.max_automated_per_day is not None
        else settings.RULE_DEFAULT_DAILY_CAP
    )


def take_automation_slot(rule: RoutingRule, *, now: datetime | None = None) -> bool:
    """One of today's automatic decisions for `rule`, if any is left (call inside the routing transaction:
    the slot is given back if the transaction rolls back)."""
    day = (now or timezone.now()).date()
    RuleAutomationDay.objects.bulk_create([RuleAutomationDay(rule=rule, day=day)], ignore_conflicts=True)
    # A correlated EXISTS, not a join: with a join Django rewrites the UPDATE as `id IN (subquery)`, and
    # PostgreSQL would then not re-check `decided < cap` on the row a racing worker just incremented.
    still_as_evaluated = RoutingRule.objects.filter(
        pk=OuterRef("rule_id"),
        state=RoutingRule.State.LIVE,
        automation_mode=RoutingRule.AutomationMode.LIVE,
        version=rule.version,
    )
    taken = (
        RuleAutomationDay.objects.filter(rule=rule, day=day, decided__lt=daily_cap(rule))
        .filter(Exists(still_as_evaluated))
        .update(decided=F("decided") + 1)
    )
    return taken == 1


def pause_surging_rules(*, now: datetime | None = None) -> list[RoutingRule]:
    """Pause every live rule that surges above its baseline (each in its own transaction). Returns them."""
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    baseline_hours = settings.RULE_SURGE_BASELINE_DAYS * 24
    counts = (
        RuleMatch.objects.filter(
            rule__state=RoutingRule.State.LIVE,
            mode=RuleMatch.Mode.LIVE,
            matched_at__gte=hour_ago - timedelta(hours=baseline_hours),
            matched_at__lte=now,
        )
        .values("rule_id", "rule__name")
        .annotate(
            last_hour=Count("id", filter=Q(matched_at__gte=hour_ago)),
            before=Count("id", filter=Q(matched_at__lt=hour_ago)),
        )
        .filter(last_hour__gte=settings.RULE_SURGE_MIN_MATCHES)
    )
    paused = []
    for row in counts:
        baseline = row["before"] / baseline_hours
        if row["last_hour"] <= settings.RULE_SURGE_FACTOR * baseline:
            continue
        note = (
            f"Rule {row['rule__name']} paused automatically at {now:%Y-%m-%d %H:%M} UTC: "
            f"{row['last_hour']} matches in the last hour vs {baseline:.1f}/h baseline"
        )
        rule = pause_rule_automatically(rule_id=row["rule_id"], note=note)
        if rule is not None:
            logger.warning("%s", note)
            paused.append(rule)
    return paused
