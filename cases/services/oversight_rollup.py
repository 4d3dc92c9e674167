"""Recompute the dashboards' hourly roll-ups (cases.models.oversight) for a window of hours.

Recomputed from the source rows, never incremented, so a retried or overlapping refresh writes the same
numbers: the window's rows are deleted and rebuilt in one transaction (readers see the old hours or the new,
never half). No audit event: these rows are derived counts, not a decision or a change anyone made; the audit
log records the decisions and reports they count.

What lands in which hour:
- decisions by the hour they were made, in force or awaiting confirmation (an overturned first decision
  does not count; the confirming or overriding one does); shadow decisions are counted as their own source;
- reports by the hour they were received; judged reports (upheld or rejected) by the hour their case was
  resolved, which is when the final decision set their outcome.
The case's queue and restriction are read at refresh time: a case escalated after the window was last
refreshed stays counted under the queue it had then.
"""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Case as CaseWhen
from django.db.models import CharField, Count, Q, Value, When
from django.db.models.functions import TruncHour

from cases.models import Decision, DecisionHour, Report, ReportHour
from cases.services.performance_rollup import refresh_performance_days
from moderation.periods import hour_start

COUNTED_STATES = ("final", "confirmed", "pending")


def _source():
    return CaseWhen(
        When(mode=Decision.Mode.SHADOW, then=Value(DecisionHour.Source.SHADOW)),
        When(automated=True, then=Value(DecisionHour.Source.AUTOMATED)),
        default=Value(DecisionHour.Source.AGENT),
        output_field=CharField(),
    )


def refresh_oversight_hours(*, since: datetime, until: datetime) -> tuple[int, int]:
    """Rebuild the roll-up rows of every hour from `since`'s hour up to (not including) `until`'s next hour.
    Then the per-rule and per-model days it may have changed (`performance_rollup`). Returns (decision rows,
    report rows) written."""
    start, end = hour_start(since), hour_start(until) + timedelta(hours=1)
    decision_rows = [
        DecisionHour(
            hour=row["h"],
            queue_id=row["case__queue_id"],
            is_restricted=row["case__is_restricted"],
            policy_id=row["policy_id"],
            action_id=row["action_id"],
            source=row["src"],
            decisions=row["n"],
        )
        for row in Decision.objects.filter(
            created_at__gte=start, created_at__lt=end, review_state__in=COUNTED_STATES
        )
        .annotate(h=TruncHour("created_at", tzinfo=UTC), src=_source())
        .values("h", "case__queue_id", "case__is_restricted", "policy_id", "action_id", "src")
        .annotate(n=Count("id"))
        .order_by()
    ]
    reports: dict[tuple, ReportHour] = {}

    def row_for(hour, vendor_id, queue_id, restricted) -> ReportHour:
        key = (hour, vendor_id, queue_id, restricted)
        if key not in reports:
            reports[key] = ReportHour(
                hour=hour, vendor_id=vendor_id, queue_id=queue_id, is_restricted=restricted
            )
        return reports[key]

    for row in (
        Report.objects.filter(received_at__gte=start, received_at__lt=end)
        .annotate(h=TruncHour("received_at", tzinfo=UTC))
        .values("h", "vendor_id", "case__queue_id", "case__is_restricted")
        .annotate(n=Count("id"))
        .order_by()
    ):
        row_for(row["h"], row["vendor_id"], row["case__queue_id"], row["case__is_restricted"]).reports = row[
            "n"
        ]
    for row in (
        Report.objects.filter(case__resolved_at__gte=start, case__resolved_at__lt=end)
        .exclude(outcome=Report.Outcome.PENDING)
        .annotate(h=TruncHour("case__resolved_at", tzinfo=UTC))
        .values("h", "vendor_id", "case__queue_id", "case__is_restricted")
        .annotate(
            upheld=Count("id", filter=Q(outcome=Report.Outcome.UPHELD)),
            rejected=Count("id", filter=Q(outcome=Report.Outcome.REJECTED)),
        )
        .order_by()
    ):
        target = row_for(row["h"], row["vendor_id"], row["case__queue_id"], row["case__is_restricted"])
        target.upheld, target.rejected = row["upheld"], row["rejected"]
    with transaction.atomic():
        DecisionHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        ReportHour.objects.filter(hour__gte=start, hour__lt=end).delete()
        DecisionHour.objects.bulk_create(decision_rows, batch_size=2000)
        ReportHour.objects.bulk_create(list(reports.values()), batch_size=2000)
    refresh_performance_days(start=start, end=end)
    return len(decision_rows), len(reports)
