"""Rebuild the Outcomes page's daily per-rule and per-model roll-up (`cases.models.PerformanceDay`).

A rule's or a model's figures on a day depend on what happened later: the person's decision on the same case
(agreement) and the appeal against it (precision). So each refresh rebuilds, whole, the days its window
touches plus the days of rule decisions and scores on cases that a person decided, or whose appeal was filed
or resolved, within the window; a day is deleted and rebuilt in one transaction, so a retried or overlapping
refresh writes the same rows. A later change the window does not see (e.g. a refresh skipped for longer
than OVERSIGHT_REFRESH_HOURS) stays until `refresh_oversight_hours` covers that window again. No audit row:
derived counts.
"""

from datetime import datetime, timedelta

from django.db import transaction

from cases.models import Appeal, Decision, PerformanceDay, ScoringRecord
from cases.oversight_selectors import FIGURES, model_figures, rule_figures
from moderation.audit import Verb
from moderation.models import AuditEvent
from moderation.periods import day_start

APPEAL_VERBS = (Verb.APPEAL_FILED, Verb.APPEAL_UPHELD, Verb.APPEAL_OVERTURNED)


def days_to_rebuild(start: datetime, end: datetime) -> set[datetime]:
    days, at = set(), day_start(start)
    while at < end:
        days.add(at)
        at += timedelta(days=1)
    decided = Decision.objects.filter(
        created_at__gte=start, created_at__lt=end, mode=Decision.Mode.LIVE, automated=False
    ).values("case_id")
    appeal_cases = AuditEvent.objects.filter(
        verb__in=APPEAL_VERBS, at__gte=start, at__lt=end, case_id__isnull=False
    ).values("case_id")
    appealed = Appeal.objects.filter(appeal_case_id__in=appeal_cases).values("decision__case_id")
    touched = decided.union(appealed)
    # Only days before the window need finding: the window's own days are rebuilt anyway.
    earlier = {"created_at__lt": day_start(start)}
    for at in Decision.objects.filter(rule__isnull=False, case_id__in=touched, **earlier).values_list(
        "created_at", flat=True
    ):
        days.add(day_start(at))
    for at in ScoringRecord.objects.filter(case_id__in=touched, scored_at__lt=day_start(start)).values_list(
        "scored_at", flat=True
    ):
        days.add(day_start(at))
    return days


def rebuild_performance_day(day: datetime) -> int:
    end = day + timedelta(days=1)
    rows = [
        PerformanceDay(
            day=day,
            queue_id=row["case__queue_id"],
            is_restricted=row["case__is_restricted"],
            kind=kind,
            subject_id=row[key],
            **{f: row[f] for f in FIGURES},
        )
        for kind, key, figures in (
            (PerformanceDay.Kind.RULE, "rule_id", rule_figures),
            (PerformanceDay.Kind.MODEL, "model_version_id", model_figures),
        )
        for row in figures(day, end)
    ]
    with transaction.atomic():
        PerformanceDay.objects.filter(day=day).delete()
        PerformanceDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def refresh_performance_days(*, start: datetime, end: datetime) -> int:
    """Rebuild the days the window [start, end) may have changed (see the module doc); rows written."""
    return sum(rebuild_performance_day(day) for day in sorted(days_to_rebuild(start, end)))
