"""Reads behind the leads' Queue health and Team pages (`queues.oversight_views`), each a chart.

Everything is scoped to the queues the lead may see (`visible_queue_ids`, clearance included) and, within
them, to what a queue page would show: a restricted case left in an open queue is never counted for anyone
not cleared for a restricted queue. Time series read the pre-aggregated tables (`queues.models.health_history`);
per-agent rates read decisions directly, through the period index on their creation.

Percentiles: PostgreSQL computes them in SQL (`percentile_cont`, the interpolated percentile); other
databases (SQLite in development) fetch the durations and interpolate the same way in Python.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Max, Q, QuerySet, Sum
from django.db.models.functions import Trunc

from moderation.charts import Chart, Series
from moderation.periods import Period
from queues.models import DecisionTiming, Queue, QueueIntakeHour, QueueSnapshot
from queues.selectors import visible_queues


@dataclass(frozen=True)
class Scope:
    queues: list[Queue]  # the lead's visible queues, for the filter
    chosen: frozenset[int]
    restricted: frozenset[int]  # the chosen ones that are restricted (the lead is cleared for them)

    def cases(self, prefix: str = "") -> Q:
        """Cases counted: in a chosen queue, and not restricted unless the queue is (see module doc)."""
        return Q(**{f"{prefix}queue_id__in": self.chosen, f"{prefix}is_restricted": False}) | Q(
            **{f"{prefix}queue_id__in": self.restricted}
        )


def oversight_scope(user, requested: list[int]) -> Scope:
    """The queues a lead's page counts: those asked for among the visible ones, or all visible ones."""
    queues = list(visible_queues(user))
    visible = frozenset(q.pk for q in queues)
    chosen = frozenset(requested) & visible or visible
    # Restricted queues are visible only to the cleared (visible_queue_ids), so these may count them.
    restricted = frozenset(q.pk for q in queues if q.is_restricted)
    return Scope(queues=queues, chosen=chosen, restricted=chosen & restricted)


class _SecondsPercentile(Aggregate):
    """percentile_cont over `end - start` in seconds (PostgreSQL)."""

    template = "percentile_cont(%(fraction)s) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (%(expressions)s)))"
    arg_joiner = " - "
    output_field = FloatField()

    def __init__(self, end: str, start: str, fraction: float):
        super().__init__(F(end), F(start), fraction=float(fraction))


def interpolated_percentile(values: list[float], fraction: float) -> float | None:
    """What percentile_cont answers: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _percentiles(rows: QuerySet, group: str, start: str, end: str) -> dict:
    """{group value: (median seconds, p90 seconds)} of `end - start` over rows where both are set."""
    rows = rows.filter(**{f"{start}__isnull": False, f"{end}__isnull": False}).order_by()
    if connection.vendor == "postgresql":
        return {
            row[group]: (row["p50"], row["p90"])
            for row in rows.values(group).annotate(
                p50=_SecondsPercentile(end, start, 0.5), p90=_SecondsPercentile(end, start, 0.9)
            )
        }
    durations: dict = defaultdict(list)
    for key, began, ended in rows.values_list(group, start, end):
        durations[key].append((ended - began).total_seconds())
    return {
        key: (interpolated_percentile(values, 0.5), interpolated_percentile(values, 0.9))
        for key, values in durations.items()
    }


def _bucket(period: Period, moment: datetime) -> datetime:
    return period.bucket_of(moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC))


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


# --- Queue health ---------------------------------------------------------------------------------------


def queue_health_charts(scope: Scope, period: Period) -> list[Chart]:
    """Backlog and oldest waiting per queue (snapshots), intake, SLA attainment and breaches, time to first
    review and time to decision (median, p90) per bucket. Six queries, whatever the number of rows."""
    buckets = period.buckets()
    index = {b: i for i, b in enumerate(buckets)}
    labels = [period.label(b) for b in buckets]
    names = {q.pk: q.name for q in scope.queues if q.pk in scope.chosen}
    charts = []

    backlog: dict[int, list] = {pk: [None] * len(buckets) for pk in names}
    oldest: dict[int, list] = {pk: [None] * len(buckets) for pk in names}
    for row in (
        QueueSnapshot.objects.filter(queue_id__in=scope.chosen, at__gte=period.start, at__lt=period.end)
        .annotate(b=Trunc("at", period.bucket, tzinfo=UTC))
        .values("queue_id", "b")
        .annotate(waiting=Max("waiting"), oldest=Max("oldest_waiting_seconds"))
        .order_by()
    ):
        i = index.get(_bucket(period, row["b"]))
        if i is not None and row["queue_id"] in backlog:
            backlog[row["queue_id"]][i] = row["waiting"]
            oldest[row["queue_id"]][i] = _minutes(row["oldest"])
    charts.append(
        Chart(
            "backlog",
            "Backlog per queue (most waiting)",
            labels,
            [Series(names[pk], backlog[pk]) for pk in names],
            unit="cases",
            x_title="Period",
        )
    )

    opened, reports = [0] * len(buckets), [0] * len(buckets)
    for row in (
        QueueIntakeHour.objects.filter(queue_id__in=scope.chosen, hour__gte=period.start, hour__lt=period.end)
        .annotate(b=Trunc("hour", period.bucket, tzinfo=UTC))
        .values("b")
        .annotate(opened=Sum("opened"), reports=Sum("reports"))
        .order_by()
    ):
        i = index.get(_bucket(period, row["b"]))
        if i is not None:
            opened[i], reports[i] = row["opened"], row["reports"]
    charts.append(
        Chart(
            "intake",
            "Intake",
            labels,
            [Series("Cases opened", opened), Series("Reports received", reports)],
            kind="bar",
            unit="count",
            x_title="Period",
        )
    )
    charts.append(
        Chart(
            "oldest",
            "Oldest waiting case per queue",
            labels,
            [Series(names[pk], oldest[pk]) for pk in names],
            unit="minutes",
            x_title="Period",
        )
    )

    timings = DecisionTiming.objects.filter(
        scope.cases(), decided_at__gte=period.start, decided_at__lt=period.end
    ).annotate(b=Trunc("decided_at", period.bucket, tzinfo=UTC))
    attained, breaches = [None] * len(buckets), [0] * len(buckets)
    for row in (
        timings.filter(sla_due_at__isnull=False)
        .values("b")
        .annotate(n=Count("pk"), late=Count("pk", filter=Q(decided_at__gt=F("sla_due_at"))))
        .order_by()
    ):
        i = index.get(_bucket(period, row["b"]))
        if i is not None:
            attained[i] = round(100 * (row["n"] - row["late"]) / row["n"], 1)
            breaches[i] = row["late"]
    charts.append(
        Chart(
            "sla",
            "SLA attainment (decided within SLA / decided)",
            labels,
            [Series("Within SLA", attained)],
            unit="%",
            x_title="Period",
        )
    )
    charts.append(
        Chart(
            "breaches",
            "SLA breaches (decided late)",
            labels,
            [Series("Breaches", breaches)],
            kind="bar",
            unit="decisions",
            x_title="Period",
        )
    )
    for slug, title, start, end in (
        ("first-review", "Time to first review (opened → first claim)", "opened_at", "first_claimed_at"),
        ("time-to-decision", "Time to decision (opened → decided)", "opened_at", "decided_at"),
    ):
        median, p90 = [None] * len(buckets), [None] * len(buckets)
        for b, (p50, p9) in _percentiles(timings, "b", start, end).items():
            i = index.get(_bucket(period, b))
            if i is not None:
                median[i], p90[i] = _minutes(p50), _minutes(p9)
        charts.append(
            Chart(
                slug,
                title,
                labels,
                [Series("Median", median), Series("p90", p90)],
                unit="minutes",
                x_title="Period",
            )
        )
    return charts
