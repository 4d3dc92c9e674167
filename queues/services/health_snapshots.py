"""The beat task's writes behind the leads' queue-health and team pages (`queues.models.health_history`).

Each step is bounded and idempotent, so a re-delivered or overlapping run adds nothing: snapshots are unique
per queue and minute, intake hours are upserted, decision timings are keyed by the decision. No audit row:
these are derived, disposable aggregates of what the audit log and the cases already record.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Trunc
from django.utils import timezone

from cases.models import CLAIMABLE_STATUSES, Case, Decision, Report
from moderation.audit import Verb
from moderation.models import AuditEvent
from moderation.periods import hour_start
from queues.models import DecisionTiming, Queue, QueueIntakeHour, QueueSnapshot
from queues.services.health_rollups import refresh_health_rollups

TIMING_BATCH = 5000
# Decisions whose ids sit just below the newest copied one are looked at again: a transaction that took an
# id earlier may commit later than one that took a higher id.
TIMING_LOOKBACK_IDS = 500


@dataclass(frozen=True)
class SnapshotRun:
    snapshots: int
    rolled_up_hours: int
    timings: int
    rollup_rows: int = 0


def _shown_in_its_queue() -> Q:
    # What a queue page lists (queues.selectors.queue_cases): a restricted case left in an open queue is
    # never counted there, so no lead without clearance learns of it from a backlog figure.
    return Q(queue__is_restricted=True) | Q(is_restricted=False)


def record_queue_health(*, now: datetime | None = None) -> SnapshotRun:
    """Take this minute's backlog snapshot, recompute the last two hours' intake, copy new decisions'
    timings, rebuild the days of timing roll-ups that may have changed (`health_rollups`) and compact old
    history. Safe to run more than once a minute."""
    now = now or timezone.now()
    with transaction.atomic():
        snapshots = _take_snapshots(now)
        _count_intake(now)
    with transaction.atomic():
        rolled = _roll_up_minutes(now)
    timings = copy_decision_timings()
    rollups = refresh_health_rollups(now=now)
    return SnapshotRun(snapshots=snapshots, rolled_up_hours=rolled, timings=timings, rollup_rows=rollups)


def _take_snapshots(now: datetime) -> int:
    at = now.replace(second=0, microsecond=0)
    counts = {
        row["queue_id"]: row
        for row in Case.objects.exclude(status=Case.Status.RESOLVED)
        .filter(_shown_in_its_queue(), queue__isnull=False)
        .values("queue_id")
        .annotate(
            waiting=Count("pk", filter=Q(assignee__isnull=True, status__in=CLAIMABLE_STATUSES)),
            in_review=Count("pk", filter=Q(assignee__isnull=False)),
            overdue=Count("pk", filter=Q(sla_due_at__lt=now)),
            oldest=Min("opened_at", filter=Q(assignee__isnull=True, status__in=CLAIMABLE_STATUSES)),
        )
        .order_by()
    }
    rows = []
    for queue_id in Queue.objects.filter(is_active=True).values_list("pk", flat=True):
        row = counts.get(queue_id, {})
        oldest = row.get("oldest")
        rows.append(
            QueueSnapshot(
                queue_id=queue_id,
                at=at,
                waiting=row.get("waiting", 0),
                in_review=row.get("in_review", 0),
                overdue=row.get("overdue", 0),
                oldest_waiting_seconds=max(int((now - oldest).total_seconds()), 0) if oldest else None,
            )
        )
    QueueSnapshot.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _count_intake(now: datetime) -> None:
    since = hour_start(now) - timedelta(hours=1)
    totals: dict[tuple[int, datetime], dict[str, int]] = {}
    opened = (
        Case.objects.filter(_shown_in_its_queue(), opened_at__gte=since, queue__isnull=False)
        .annotate(hour=Trunc("opened_at", "hour", tzinfo=UTC))
        .values("queue_id", "hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in opened:
        totals.setdefault((row["queue_id"], row["hour"]), {"opened": 0, "reports": 0})["opened"] = row["n"]
    reports = (
        Report.objects.filter(
            Q(case__queue__is_restricted=True) | Q(case__is_restricted=False),
            received_at__gte=since,
            case__queue__isnull=False,
        )
        .annotate(hour=Trunc("received_at", "hour", tzinfo=UTC))
        .values("case__queue_id", "hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in reports:
        key = (row["case__queue_id"], row["hour"])
        totals.setdefault(key, {"opened": 0, "reports": 0})["reports"] = row["n"]
    QueueIntakeHour.objects.bulk_create(
        [QueueIntakeHour(queue_id=q, hour=h, **n) for (q, h), n in totals.items()],
        update_conflicts=True,
        unique_fields=["queue", "hour"],
        update_fields=["opened", "reports"],
    )


def _roll_up_minutes(now: datetime) -> int:
    """Minute rows older than `SNAPSHOT_MINUTE_DAYS` become one row per queue and hour (its worst backlog
    and oldest wait), then go; hour rows older than `SNAPSHOT_HOUR_DAYS` go."""
    cutoff = hour_start(now - timedelta(days=settings.SNAPSHOT_MINUTE_DAYS))
    old = QueueSnapshot.objects.filter(grain=QueueSnapshot.Grain.MINUTE, at__lt=cutoff)
    hours = (
        old.annotate(hour=Trunc("at", "hour", tzinfo=UTC))
        .values("queue_id", "hour")
        .annotate(
            waiting=Max("waiting"),
            in_review=Max("in_review"),
            overdue=Max("overdue"),
            oldest=Max("oldest_waiting_seconds"),
        )
        .order_by()
    )
    rows = [
        QueueSnapshot(
            queue_id=row["queue_id"],
            at=row["hour"],
            grain=QueueSnapshot.Grain.HOUR,
            waiting=row["waiting"],
            in_review=row["in_review"],
            overdue=row["overdue"],
            oldest_waiting_seconds=row["oldest"],
        )
        for row in hours
    ]
    # A minute row taken exactly on the hour holds the (queue, at) the hour row needs: it goes first.
    old.delete()
    QueueSnapshot.objects.bulk_create(rows, ignore_conflicts=True)
    QueueSnapshot.objects.filter(
        grain=QueueSnapshot.Grain.HOUR, at__lt=now - timedelta(days=settings.SNAPSHOT_HOUR_DAYS)
    ).delete()
    return len(rows)


def copy_decision_timings(*, batch: int = TIMING_BATCH) -> int:
    """Copy the moments of live decisions not copied yet (at most `batch` a run): the case's opening and SLA,
    its first claim and the decider's last claim before deciding (from the audit log's `case.claimed`)."""
    newest = DecisionTiming.objects.aggregate(m=Max("decision_id"))["m"] or 0
    decisions = list(
        Decision.objects.filter(mode=Decision.Mode.LIVE, pk__gt=max(newest - TIMING_LOOKBACK_IDS, 0))
        .order_by("pk")
        .values(
            "pk",
            "case_id",
            "decided_by_id",
            "policy_id",
            "automated",
            "created_at",
            "case__queue_id",
            "case__is_restricted",
            "case__opened_at",
            "case__sla_due_at",
        )[:batch]
    )
    if not decisions:
        return 0
    claims: dict[int, list[tuple[str, datetime]]] = {}
    for case_id, actor_id, at in AuditEvent.objects.filter(
        verb=Verb.CASE_CLAIMED, case_id__in={d["case_id"] for d in decisions}
    ).values_list("case_id", "actor_id", "at"):
        claims.setdefault(case_id, []).append((actor_id, at))
    rows = []
    for d in decisions:
        case_claims = [c for c in claims.get(d["case_id"], []) if c[1] <= d["created_at"]]
        mine = [at for actor, at in case_claims if actor == str(d["decided_by_id"])]
        rows.append(
            DecisionTiming(
                decision_id=d["pk"],
                case_id=d["case_id"],
                queue_id=d["case__queue_id"],
                agent_id=d["decided_by_id"],
                policy_id=d["policy_id"],
                automated=d["automated"],
                is_restricted=d["case__is_restricted"],
                decided_at=d["created_at"],
                opened_at=d["case__opened_at"],
                first_claimed_at=min((at for _, at in case_claims), default=None),
                claimed_at=max(mine, default=None),
                sla_due_at=d["case__sla_due_at"],
            )
        )
    DecisionTiming.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
