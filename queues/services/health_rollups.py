"""The beat task's roll-ups of decision timings (`queues.models.health_history` TimingBucket and AgentDay), so
the Queue health and Team pages sum a few hundred rows instead of taking percentiles over raw timings.

A day is rebuilt whole (delete and insert in one transaction), so a re-run or an overlapping run converges on
the same rows. Each run rebuilds today (and yesterday during the first hour, for late commits) plus the days
of decisions whose second review or appeal the audit log shows since the previous run; older days are
otherwise left as they were (the `rebuild_health_rollups` command rebuilds any window). No audit row: these
are derived, disposable aggregates.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cases.models import Appeal, Case, Decision
from moderation.audit import Verb
from moderation.histograms import histogram
from moderation.models import AuditEvent
from moderation.periods import day_start, hour_start
from queues.models import AgentDay, CaseSkip, DecisionTiming, TimingBucket

LATE_CHANGES = (
    Verb.DECISION_CONFIRMED,
    Verb.DECISION_OVERTURNED,
    Verb.APPEAL_FILED,
    Verb.APPEAL_UPHELD,
    Verb.APPEAL_OVERTURNED,
)
# The audit log is looked at this far back for late review and appeal outcomes: more than the beat's minute,
# so a slow or skipped run still sees them.
LATE_CHANGE_WINDOW = timedelta(minutes=10)


def days_to_rebuild(now: datetime) -> set[datetime]:
    days = {day_start(now), day_start(now - timedelta(hours=1))}
    touched = AuditEvent.objects.filter(
        verb__in=LATE_CHANGES, at__gte=now - LATE_CHANGE_WINDOW, case_id__isnull=False
    ).values("case_id")
    # An appeal's events may be on the appeal case; its decision is on the original one.
    appealed = Appeal.objects.filter(appeal_case_id__in=touched).values("decision__case_id")
    for at in Decision.objects.filter(
        mode=Decision.Mode.LIVE, case_id__in=touched.union(appealed)
    ).values_list("created_at", flat=True):
        days.add(day_start(at))
    return days


def refresh_health_rollups(*, now: datetime | None = None) -> int:
    """Rebuild the days this run should (see the module doc); returns the rows written."""
    now = now or timezone.now()
    return sum(rebuild_day(day) for day in sorted(days_to_rebuild(now)))


def rebuild_window(*, days: int, now: datetime | None = None) -> int:
    """Rebuild the last `days` days (today included): a backfill, or after a change to past decisions."""
    today = day_start(now or timezone.now())
    return sum(rebuild_day(today - timedelta(days=n)) for n in range(days))


def _seconds(end, start) -> float | None:
    return None if end is None or start is None else (end - start).total_seconds()


def rebuild_day(day: datetime) -> int:
    end = day + timedelta(days=1)
    timings = list(
        DecisionTiming.objects.filter(
            decided_at__gte=day, decided_at__lt=end, queue__isnull=False
        ).values_list(
            "decision_id",
            "queue_id",
            "is_restricted",
            "agent_id",
            "policy_id",
            "automated",
            "decided_at",
            "opened_at",
            "first_claimed_at",
            "claimed_at",
            "sla_due_at",
        )
    )
    review = dict(
        Decision.objects.filter(created_at__gte=day, created_at__lt=end, mode=Decision.Mode.LIVE).values_list(
            "pk", "review_state"
        )
    )
    appeals: dict[int, list[str]] = defaultdict(list)
    for decision_id, state in Appeal.objects.filter(
        decision__created_at__gte=day, decision__created_at__lt=end
    ).values_list("decision_id", "state"):
        appeals[decision_id].append(state)

    buckets: dict[tuple, dict] = {}
    durations: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    agents: dict[tuple, dict] = {}
    handles: dict[tuple, list] = defaultdict(list)
    for (
        did,
        queue_id,
        restricted,
        agent_id,
        policy_id,
        automated,
        decided,
        opened,
        first,
        claimed,
        due,
    ) in timings:
        hour = hour_start(decided)
        for key in (
            (queue_id, restricted, TimingBucket.Grain.HOUR, hour),
            (queue_id, restricted, "day", day),
        ):
            row = buckets.setdefault(key, {"decided": 0, "with_sla": 0, "late": 0})
            row["decided"] += 1
            if due is not None:
                row["with_sla"] += 1
                row["late"] += decided > due
            if (s := _seconds(first, opened)) is not None:
                durations[key][0].append(s)
            durations[key][1].append((decided - opened).total_seconds())
        if agent_id is None or automated:
            continue
        key = (queue_id, restricted, agent_id, policy_id)
        row = agents.setdefault(key, _agent_counts())
        row["decisions"] += 1
        if (s := _seconds(decided, claimed)) is not None:
            handles[key].append(s)
        state = review.get(did)
        row["reviewed"] += state in ("confirmed", "overturned")
        row["disagreed"] += state == "overturned"
        states = appeals.get(did, [])
        row["appealed"] += len(states)
        row["judged"] += sum(s in (Appeal.State.UPHELD, Appeal.State.OVERTURNED) for s in states)
        row["overturned"] += sum(s == Appeal.State.OVERTURNED for s in states)
    _count_skips_and_releases(day, end, agents)

    bucket_rows = [
        TimingBucket(
            queue_id=q,
            is_restricted=r,
            grain=g,
            start=s,
            first_review=histogram(durations[(q, r, g, s)][0]),
            to_decision=histogram(durations[(q, r, g, s)][1]),
            **counts,
        )
        for (q, r, g, s), counts in buckets.items()
    ]
    agent_rows = [
        AgentDay(
            day=day,
            queue_id=q,
            is_restricted=r,
            agent_id=a,
            policy_id=p,
            handle=histogram(handles[key]),
            **counts,
        )
        for key, counts in agents.items()
        for q, r, a, p in [key]
    ]
    with transaction.atomic():
        TimingBucket.objects.filter(grain=TimingBucket.Grain.DAY, start=day).delete()
        TimingBucket.objects.filter(grain=TimingBucket.Grain.HOUR, start__gte=day, start__lt=end).delete()
        AgentDay.objects.filter(day=day).delete()
        TimingBucket.objects.bulk_create(bucket_rows, batch_size=1000)
        AgentDay.objects.bulk_create(agent_rows, batch_size=1000)
    return len(bucket_rows) + len(agent_rows)


def _agent_counts() -> dict[str, int]:
    return dict.fromkeys(
        ("decisions", "reviewed", "disagreed", "appealed", "judged", "overturned", "skips", "releases"), 0
    )


def _count_skips_and_releases(day: datetime, end: datetime, agents: dict) -> None:
    """Skips and releases of the day, by the case's queue, restriction and policy as they are now."""
    for queue_id, restricted, policy_id, user_id in CaseSkip.objects.filter(
        created_at__gte=day, created_at__lt=end, case__queue__isnull=False
    ).values_list("case__queue_id", "case__is_restricted", "case__policy_id", "user_id"):
        # A case without a policy is filed under 0: skips and releases feed no per-policy figure.
        agents.setdefault((queue_id, restricted, user_id, policy_id or 0), _agent_counts())["skips"] += 1
    released = list(
        AuditEvent.objects.filter(
            verb=Verb.CASE_RELEASED, at__gte=day, at__lt=end, actor_type=AuditEvent.ActorType.USER
        ).values_list("case_id", "actor_id")
    )
    cases = {
        pk: (queue_id, restricted, policy_id)
        for pk, queue_id, restricted, policy_id in Case.objects.filter(
            pk__in={case_id for case_id, _ in released if case_id}, queue__isnull=False
        ).values_list("pk", "queue_id", "is_restricted", "policy_id")
    }
    for case_id, actor in released:
        if case_id in cases and actor.isdigit():
            queue_id, restricted, policy_id = cases[case_id]
            agents.setdefault((queue_id, restricted, int(actor), policy_id or 0), _agent_counts())[
                "releases"
            ] += 1
