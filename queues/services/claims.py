"""Claiming cases out of a queue: leases, renewals, skips and releases.

Concurrency. Claim-next picks its candidate with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so
concurrent claimers step over each other's candidates instead of queueing behind them. The write itself is a
compare-and-set (`UPDATE ... WHERE assignee IS NULL AND status = <seen>`) and only a row count of 1 counts as
a claim, so the same code is correct on SQLite (no row locks; the database serialises writers): a claimer
that loses the race moves on to the next candidate. Each step is its own short transaction; nothing here does
network I/O.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case as When_
from django.db.models import Exists, F, OuterRef, Value, When
from django.utils import timezone

from cases.models import CLAIMABLE_STATUSES, Case
from moderation.audit import Actor, audit_event, record_event, record_events
from queues.models import CaseSkip, Queue
from queues.selectors import visible_queue_ids

SWEEPER = Actor.system("lease-sweeper")


class ClaimRefused(Exception):
    """The user may not work this queue (or it is inactive)."""


def lease_length() -> timedelta:
    return timedelta(seconds=settings.CASE_LEASE_SECONDS)


def _back_to_queue_status():
    # A released case in review goes back to open; an escalated one stays escalated (it waits for a specialist).
    return When_(When(status=Case.Status.IN_REVIEW, then=Value(Case.Status.OPEN)), default=F("status"))


def claim_next_case(*, user, queue: Queue) -> Case | None:
    """Lease the queue's highest-priority, then oldest, claimable case to `user`; None when there is none.

    - An agent who already holds a live lease on a case of this queue gets that case back (and the lease
      renewed): pressing "Next" again never hoards a second case.
    - Abandoned cases (lease run out) in the queue go back to it first.
    - Cases the agent skipped in the last `CASE_SKIP_HOURS` are not offered to them again.
    - Claimable: open cases, and escalated ones waiting in this queue. A claim bumps the case version, so a
      decision prepared by someone else on the earlier version becomes a conflict.
    Audited (`case.claimed`). Raises ClaimRefused if the user may not work the queue.
    """
    if not queue.is_active or queue.pk not in visible_queue_ids(user):
        raise ClaimRefused(f"You are not a member of the queue {queue.name!r}.")
    now = timezone.now()
    held = (
        Case.objects.filter(queue=queue, assignee=user, lease_expires_at__gt=now)
        .exclude(status=Case.Status.RESOLVED)
        .order_by("-priority", "opened_at")
        .values_list("pk", flat=True)
        .first()
    )
    if held is not None:
        renew_lease(case_id=held, user=user)
        return Case.objects.get(pk=held)
    release_expired_leases(queue_id=queue.pk, now=now)

    skipped_recently = CaseSkip.objects.filter(
        case=OuterRef("pk"), user=user, created_at__gte=now - timedelta(hours=settings.CASE_SKIP_HOURS)
    )
    candidates = (
        Case.objects.filter(queue=queue, status__in=CLAIMABLE_STATUSES, assignee__isnull=True)
        .filter(~Exists(skipped_recently))
        .order_by("-priority", "opened_at")
    )
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    for _attempt in range(20):
        with transaction.atomic():
            row = candidates.values_list("pk", "status").first()
            if row is None:
                return None
            case_id, status = row
            won = Case.objects.filter(pk=case_id, status=status, assignee__isnull=True).update(
                assignee=user,
                status=Case.Status.IN_REVIEW if status == Case.Status.OPEN else status,
                claimed_at=now,
                lease_expires_at=now + lease_length(),
                version=F("version") + 1,
                updated_at=now,
            )
            if won:
                record_event(
                    actor=Actor.for_user(user),
                    verb="case.claimed",
                    target=Case(pk=case_id),
                    case_id=case_id,
                    data={"queue": queue.slug},
                )
                return Case.objects.get(pk=case_id)
        # Lost a compare-and-set race (SQLite): another claimer took it between our read and write.
    return None


def renew_lease(*, case_id: int, user) -> datetime | None:
    """Extend the user's lease on the case (the page heartbeat); None if the case is no longer theirs."""
    expires = timezone.now() + lease_length()
    renewed = (
        Case.objects.filter(pk=case_id, assignee=user)
        .exclude(status=Case.Status.RESOLVED)
        .update(lease_expires_at=expires)
    )
    return expires if renewed else None


@transaction.atomic
def release_case(*, case_id: int, user, verb: str = "case.released") -> bool:
    """Hand the case back to its queue, if the user holds it. Audited. False if they did not hold it."""
    released = (
        Case.objects.filter(pk=case_id, assignee=user)
        .exclude(status=Case.Status.RESOLVED)
        .update(
            assignee=None,
            lease_expires_at=None,
            claimed_at=None,
            status=_back_to_queue_status(),
            updated_at=timezone.now(),
        )
    )
    if released:
        record_event(actor=Actor.for_user(user), verb=verb, target=Case(pk=case_id), case_id=case_id)
    return bool(released)


@transaction.atomic
def skip_case(*, case_id: int, user) -> bool:
    """Release the case and stop offering it to this agent for `CASE_SKIP_HOURS`. Audited (`case.skipped`)."""
    if not release_case(case_id=case_id, user=user, verb="case.skipped"):
        return False
    CaseSkip.objects.update_or_create(case_id=case_id, user=user, defaults={"created_at": timezone.now()})
    return True


def release_expired_leases(
    *, queue_id: int | None = None, now: datetime | None = None, limit: int = 500
) -> int:
    """Return abandoned cases (lease run out) to their queues; the number returned. Audited per case.

    Called by claim-next for its queue and by a beat task for all queues (so dashboards count them right).
    Each case is released by compare-and-set on the expired lease, so a heartbeat that renews at the same
    moment wins or loses cleanly.
    """
    now = now or timezone.now()
    expired = Case.objects.filter(assignee__isnull=False, lease_expires_at__lt=now).exclude(
        status=Case.Status.RESOLVED
    )
    if queue_id is not None:
        expired = expired.filter(queue_id=queue_id)
    expired = expired.order_by("lease_expires_at")
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            expired = expired.select_for_update(skip_locked=True, of=("self",))
        rows = list(expired.values_list("pk", "assignee_id")[:limit])
        events = []
        for case_id, assignee_id in rows:
            released = Case.objects.filter(
                pk=case_id, assignee_id=assignee_id, lease_expires_at__lt=now
            ).update(
                assignee=None,
                lease_expires_at=None,
                claimed_at=None,
                status=_back_to_queue_status(),
                updated_at=now,
            )
            if released:
                events.append(
                    audit_event(
                        actor=SWEEPER,
                        verb="case.lease_expired",
                        target=Case(pk=case_id),
                        case_id=case_id,
                        data={"assignee": assignee_id},
                    )
                )
        record_events(events)
    return len(events)


def claim_case(*, case_id: int, user) -> Case | None:
    """Claim one named case (picked from the queue list); None if someone else holds a live lease on it.

    An expired lease can be taken over. Same compare-and-set as claim-next; the caller checks the user may
    see the case. Audited (`case.claimed`).
    """
    now = timezone.now()
    row = (
        Case.objects.filter(pk=case_id)
        .exclude(status=Case.Status.RESOLVED)
        .values_list("status", "assignee_id", "lease_expires_at")
        .first()
    )
    if row is None:
        return None
    status, assignee_id, lease = row
    if assignee_id == user.pk:
        renew_lease(case_id=case_id, user=user)
        return Case.objects.get(pk=case_id)
    if assignee_id is not None and lease is not None and lease > now:
        return None
    with transaction.atomic():
        won = Case.objects.filter(
            pk=case_id, status=status, assignee_id=assignee_id, lease_expires_at=lease
        ).update(
            assignee=user,
            status=Case.Status.IN_REVIEW if status == Case.Status.OPEN else status,
            claimed_at=now,
            lease_expires_at=now + lease_length(),
            version=F("version") + 1,
            updated_at=now,
        )
        if not won:
            return None
        record_event(
            actor=Actor.for_user(user),
            verb="case.claimed",
            target=Case(pk=case_id),
            case_id=case_id,
            data={"taken_over_from": assignee_id} if assignee_id else {},
        )
    return Case.objects.get(pk=case_id)
