"""Reads behind the leads' Queue health and Team pages (`queues.oversight_views`), each a chart.

Everything is scoped to the queues the lead may see (`visible_queue_ids`, clearance included) and, within
them, to what a queue page would show: a restricted case left in an open queue is never counted for anyone
not cleared for a restricted queue. Time series read the pre-aggregated tables (`queues.models.health_history`);
decision timings are rolled up per queue and hour (and day) by the beat task (`TimingBucket`).

Percentiles (median, p90) are read from the roll-ups' summed duration histograms (`moderation.histograms`:
fixed log-spaced bins, within 4.9 % of the exact interpolated percentile), so a 30-day chart sums a few
hundred rows whatever the number of decisions.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Max, Q, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils.translation import gettext as _

from moderation.charts import Chart, Series
from moderation.histograms import merge, percentile
from moderation.periods import Period
from queues.models import Queue, QueueIntakeHour, QueueSnapshot, TimingBucket
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


def timing_buckets(scope: Scope, period: Period) -> QuerySet:
    """The period's timing roll-up rows (hourly for a day's chart, daily otherwise) the scope counts."""
    grain = TimingBucket.Grain.HOUR if period.bucket == "hour" else TimingBucket.Grain.DAY
    return TimingBucket.objects.filter(
        scope.cases(), grain=grain, start__gte=period.start, start__lt=period.end
    ).order_by()


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
            _("Backlog per queue (most waiting)"),
            labels,
            [Series(names[pk], backlog[pk]) for pk in names],
            unit=_("cases"),
            x_title=_("Period"),
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
            _("Intake"),
            labels,
            [Series(_("Cases opened"), opened), Series(_("Reports received"), reports)],
            kind="bar",
            unit=_("count"),
            x_title=_("Period"),
        )
    )
    charts.append(
        Chart(
            "oldest",
            _("Oldest waiting case per queue"),
            labels,
            [Series(names[pk], oldest[pk]) for pk in names],
            unit=_("minutes"),
            x_title=_("Period"),
        )
    )

    with_sla, breaches = [0] * len(buckets), [0] * len(buckets)
    first_review: list[dict] = [{} for _ in buckets]
    to_decision: list[dict] = [{} for _ in buckets]
    for row in timing_buckets(scope, period).values(
        "start", "with_sla", "late", "first_review", "to_decision"
    ):
        i = index.get(_bucket(period, row["start"]))
        if i is not None:
            with_sla[i] += row["with_sla"]
            breaches[i] += row["late"]
            merge(first_review[i], row["first_review"])
            merge(to_decision[i], row["to_decision"])
    attained = [
        round(100 * (n - late) / n, 1) if n else None for n, late in zip(with_sla, breaches, strict=True)
    ]
    charts.append(
        Chart(
            "sla",
            _("SLA attainment (decided within SLA / decided)"),
            labels,
            [Series(_("Within SLA"), attained)],
            unit="%",
            x_title=_("Period"),
        )
    )
    charts.append(
        Chart(
            "breaches",
            _("SLA breaches (decided late)"),
            labels,
            [Series(_("Breaches"), breaches)],
            kind="bar",
            unit=_("decisions"),
            x_title=_("Period"),
        )
    )
    for slug, title, bins in (
        ("first-review", _("Time to first review (opened → first claim)"), first_review),
        ("time-to-decision", _("Time to decision (opened → decided)"), to_decision),
    ):
        median = [_minutes(percentile(b, 0.5)) for b in bins]
        p90 = [_minutes(percentile(b, 0.9)) for b in bins]
        charts.append(
            Chart(
                slug,
                title,
                labels,
                [Series(_("Median"), median), Series(_("p90"), p90)],
                unit=_("minutes"),
                x_title=_("Period"),
            )
        )
    return charts
