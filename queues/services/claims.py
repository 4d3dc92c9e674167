"""Claiming cases out of a queue: leases, renewals, skips and releases.

Concurrency. Claim-next picks its candidate with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so
concurrent claimers step over each other's candidates instead of queueing behind them. The write itself is a
compare-and-set (`UPDATE ... WHERE assignee IS NULL AND status = <seen>`) and only a row count of 1 counts as
a claim, so the same code is correct on SQLite (no row locks; the database serialises writers): a claimer
that loses the race moves on to the next candidate. Nothing here does network I/O.

How many cases an agent holds. An agent is the assignee of at most `CASE_MAX_HELD` unresolved cases (in
review, escalated, or awaiting confirmation as its second reviewer); a decision of theirs awaiting someone
else's confirmation is not held by them (deciding releases the case), nor is a case whose lease ran out: every
claim first returns the agent's own run-out leases. Counting and claiming are one transaction that starts by
locking the agent's user row (`FOR NO KEY UPDATE`: foreign keys to the user still insert), so two claims by
one agent (two tabs, two queues) run one after the other and the second counts the first's case. On
PostgreSQL the count is a later statement than the lock, so its snapshot includes whatever the claim it waited
for committed (one statement would not: all of it sees the snapshot taken before the wait). On SQLite the
transaction (IMMEDIATE) already holds the database's write lock. Lock order: the agent, then cases; decisions
lock only cases, so no cycle.
"""

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case as When_
from django.db.models import Exists, F, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import CLAIMABLE_STATUSES, Appeal, Case, Decision
from moderation.audit import Actor, Verb, audit_event, record_event, record_events
from moderation.errors import Conflict, Forbidden
from moderation.models import AuditEvent
from queues.models import CaseSkip, Queue
from queues.selectors import visible_queue_ids

SWEEPER = Actor.system("lease-sweeper")


class ClaimRefused(Forbidden):
    """The user may not work this queue (or it is inactive)."""


class HoldLimitReached(Conflict):
    """A named claim beyond `CASE_MAX_HELD`: the agent must finish or release `held_case_id` first."""

    def __init__(self, held_case_id: int):
        self.held_case_id = held_case_id
        super().__init__(
            f"You are already reviewing case {held_case_id} (at most {settings.CASE_MAX_HELD} at a time): "
            "decide, skip or release it first.",
            existing=held_case_id,
        )


def _claimed(user, status: str, now: datetime) -> dict:
    """What a claim writes, on every portable path (the PostgreSQL statement writes the same): the agent, in
    review (an escalated or awaiting case keeps its status), a fresh lease, and a new version, so a form
    prepared on the earlier one becomes a conflict."""
    return {
        "assignee": user,
        "status": Case.Status.IN_REVIEW if status == Case.Status.OPEN else status,
        "claimed_at": now,
        "lease_expires_at": now + lease_length(),
        "version": F("version") + 1,
        "updated_at": now,
    }


def lease_length() -> timedelta:
    return timedelta(seconds=settings.CASE_LEASE_SECONDS)


def _back_to_queue_status():
    # A released case in review goes back to open; an escalated one stays escalated (it waits for a specialist).
    return When_(When(status=Case.Status.IN_REVIEW, then=Value(Case.Status.OPEN)), default=F("status"))


def claim_next_case(*, user, queue: Queue) -> Case | None:
    """Lease the queue's highest-priority, then oldest, claimable case to `user`; None when there is none.

    - An agent who already holds a case of this queue gets that case back (and the lease renewed): pressing
      "Next" again never hoards a second case.
    - An agent who holds `CASE_MAX_HELD` cases gets one of them back (this queue's first, then by priority),
      wherever it waits, rather than another case.
    - Abandoned cases (lease run out) in the queue, and the agent's own anywhere, go back first.
    - Cases the agent skipped in the last `CASE_SKIP_HOURS` are not offered to them again, nor decisions of
      theirs awaiting a second reviewer, nor appeals of decisions they made or confirmed.
    - Claimable: open cases, and escalated ones waiting in this queue. A claim bumps the case version, so a
      decision prepared by someone else on the earlier version becomes a conflict.
    Audited (`case.claimed`). Raises ClaimRefused if the user may not work the queue.
    """
    if not queue.is_active or queue.pk not in visible_queue_ids(user):
        raise ClaimRefused(_("You are not a member of the queue %(queue)r.") % {"queue": queue.name})
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _claim_next_in_one_statement(user=user, queue=queue, now=now)
    with transaction.atomic():
        _lock_agent(user)
        _release_expired(Q(queue_id=queue.pk) | Q(assignee_id=user.pk), now=now)
        held = _held_case_to_resume(user=user, queue=queue)
        if held is not None:
            renew_lease(case_id=held, user=user)
            return Case.objects.get(pk=held)

        skipped_recently = CaseSkip.objects.filter(
            case=OuterRef("pk"), user=user, created_at__gte=now - timedelta(hours=settings.CASE_SKIP_HOURS)
        )
        # Four eyes: a decision awaiting confirmation is never offered to the agent who made it.
        own_pending = Decision.objects.filter(
            case=OuterRef("pk"), review_state=Decision.ReviewState.PENDING, decided_by=user
        )
        # An appeal is never offered to the agent who made or confirmed the decision under appeal.
        own_appeal = Appeal.objects.filter(appeal_case=OuterRef("pk")).filter(
            Q(decision__decided_by=user) | Q(decision__reviewed_by=user)
        )
        candidates = Case.objects.filter(queue=queue, status__in=CLAIMABLE_STATUSES, assignee__isnull=True)
        if not queue.is_restricted:  # an open queue never hands out a restricted case, even one left in it
            candidates = candidates.filter(is_restricted=False)
        candidates = (
            candidates.filter(~Exists(skipped_recently))
            .filter(~Exists(own_pending))
            .filter(~Exists(own_appeal))
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
                    **_claimed(user, status, now)
                )
                if won:
                    record_event(
                        actor=Actor.for_user(user),
                        verb=Verb.CASE_CLAIMED,
                        target=Case(pk=case_id),
                        case_id=case_id,
                        data={"queue": queue.slug},
                    )
                    return Case.objects.get(pk=case_id)
            # Lost a compare-and-set race (another claimer took it between our read and write): next one.
    return None


def _lock_agent(user) -> None:
    """Take the agent's claim lock for the rest of the transaction (see the module docstring)."""
    User = get_user_model()
    list(User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk", flat=True))


def _held_cases(user) -> list[tuple[int, int | None, float, datetime]]:
    return list(
        Case.objects.filter(assignee=user)
        .exclude(status=Case.Status.RESOLVED)
        .values_list("pk", "queue_id", "priority", "opened_at")
    )


def _held_case_to_resume(*, user, queue: Queue) -> int | None:
    """The held case claim-next gives back: this queue's, or (at the limit) any, this queue's first."""
    held = sorted(_held_cases(user), key=lambda row: (row[1] != queue.pk, -row[2], row[3]))
    if held and (held[0][1] == queue.pk or len(held) >= settings.CASE_MAX_HELD):
        return held[0][0]
    return None


# PostgreSQL: claim-next is two statements in one short transaction. The first locks the agent (see the
# module docstring) and returns the queue's abandoned cases and the agent's own (a separate statement, because
# every part of one statement sees the same snapshot: a case released there could not be claimed in it, and a
# claim the lock waited for would not be counted). The second resumes a held case or locks and claims the
# next one with SKIP LOCKED, audited in the same statement. Same behaviour as the portable path above, which
# SQLite uses; the tests run both.
_RELEASE_EXPIRED_SQL = """
WITH agent AS (
    SELECT {user_pk} FROM {user} WHERE {user_pk} = %(user)s FOR NO KEY UPDATE
), expired AS (
    UPDATE {case} AS c
    SET assignee_id = NULL, lease_expires_at = NULL, claimed_at = NULL, updated_at = %(now)s,
        status = CASE WHEN c.status = 'in_review' THEN 'open' ELSE c.status END
    FROM (
        SELECT id, assignee_id FROM {case}
        WHERE (queue_id = %(queue)s OR assignee_id = %(user)s) AND assignee_id IS NOT NULL
          AND lease_expires_at < %(now)s AND NOT status = 'resolved'
        ORDER BY lease_expires_at LIMIT 100
        FOR UPDATE SKIP LOCKED
    ) AS gone
    WHERE c.id = gone.id
    RETURNING c.id, gone.assignee_id
), expired_audit AS (
    INSERT INTO {audit} (at, actor_type, actor_id, actor_label, verb, target_type, target_id, case_id, data)
    SELECT %(now)s, %(system)s, '', %(sweeper)s, %(lease_expired)s, 'cases.case', id::text, id,
           jsonb_build_object('assignee', assignee_id)
    FROM expired
)
SELECT (SELECT count(*) FROM agent), (SELECT count(*) FROM expired)
"""

_CLAIM_NEXT_SQL = """
WITH mine AS (
    SELECT count(*) AS held FROM {case} WHERE assignee_id = %(user)s AND NOT status = 'resolved'
), held AS (
    UPDATE {case} SET lease_expires_at = %(lease)s
    -- Re-checked after any wait on the row lock: a case decided meanwhile is not handed back.
    WHERE assignee_id = %(user)s AND NOT status = 'resolved' AND id = (
        -- This queue's held case; at the limit, any held case (this queue's first).
        SELECT id FROM {case}
        WHERE assignee_id = %(user)s AND NOT status = 'resolved'
          AND (queue_id = %(queue)s OR (SELECT held FROM mine) >= %(max_held)s)
        ORDER BY CASE WHEN queue_id = %(queue)s THEN 0 ELSE 1 END, priority DESC, opened_at LIMIT 1
    )
    RETURNING {case}.*
), candidate AS (
    SELECT id FROM {case}
    WHERE queue_id = %(queue)s AND assignee_id IS NULL AND status IN {claimable}
      AND (%(restricted_queue)s OR NOT is_restricted)
      AND NOT EXISTS (
          SELECT 1 FROM {skip} AS s
          WHERE s.case_id = {case}.id AND s.user_id = %(user)s AND s.created_at >= %(skipped_since)s
      )
      AND NOT EXISTS (
          SELECT 1 FROM {decision} AS d
          WHERE d.case_id = {case}.id AND d.review_state = 'pending' AND d.decided_by_id = %(user)s
      )
      AND NOT EXISTS (
          SELECT 1 FROM {appeal} AS a JOIN {decision} AS ad ON ad.id = a.decision_id
          WHERE a.appeal_case_id = {case}.id
            AND (ad.decided_by_id = %(user)s OR ad.reviewed_by_id = %(user)s)
      )
      AND NOT EXISTS (SELECT 1 FROM held)
      AND (SELECT held FROM mine) < %(max_held)s
    ORDER BY priority DESC, opened_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {case} AS c
    SET assignee_id = %(user)s, status = CASE WHEN c.status = 'open' THEN 'in_review' ELSE c.status END,
        claimed_at = %(now)s, lease_expires_at = %(lease)s, version = c.version + 1, updated_at = %(now)s
    FROM candidate WHERE c.id = candidate.id
    RETURNING c.*
), claim_audit AS (
    INSERT INTO {audit} (at, actor_type, actor_id, actor_label, verb, target_type, target_id, case_id, data)
    SELECT %(now)s, %(actor_type)s, %(actor_id)s, %(actor_label)s, %(claimed)s, 'cases.case', id::text, id,
           %(data)s::jsonb
    FROM claimed
)
SELECT * FROM held UNION ALL SELECT * FROM claimed
"""


def _claim_next_in_one_statement(*, user, queue: Queue, now: datetime) -> Case | None:
    User = get_user_model()
    tables = {
        "user": User._meta.db_table,
        "user_pk": User._meta.pk.column,
        "case": Case._meta.db_table,
        "audit": AuditEvent._meta.db_table,
        "skip": CaseSkip._meta.db_table,
        "decision": Decision._meta.db_table,
        "appeal": Appeal._meta.db_table,
        # Constants from code, written out so the planner matches the claim index's predicate.
        "claimable": "({})".format(", ".join(f"'{status}'" for status in CLAIMABLE_STATUSES)),
    }
    actor = Actor.for_user(user)
    params = {
        "now": now,
        "lease": now + lease_length(),
        "queue": queue.pk,
        "user": user.pk,
        "skipped_since": now - timedelta(hours=settings.CASE_SKIP_HOURS),
        "max_held": settings.CASE_MAX_HELD,
        # An open queue never hands out a restricted case, even one left in it.
        "restricted_queue": queue.is_restricted,
        "system": SWEEPER.type,
        "sweeper": SWEEPER.label,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "data": json.dumps({"queue": queue.slug}),
        "lease_expired": Verb.CASE_LEASE_EXPIRED.value,
        "claimed": Verb.CASE_CLAIMED.value,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RELEASE_EXPIRED_SQL.format(**tables), params)
        cursor.execute(_CLAIM_NEXT_SQL.format(**tables), params)
        row = cursor.fetchone()
        # The claimed row as the UPDATE left it (RETURNING): no second round trip to load it.
        columns = [column.name for column in cursor.description]
    if row is None:
        return None
    by_column = dict(zip(columns, row, strict=True))
    # from_db takes values in the model's field order (the table's column order can differ after migrations).
    values = []
    for field in Case._meta.concrete_fields:
        value = by_column[field.attname]
        values.append(
            field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        )
    return Case.from_db(connection.alias, [field.attname for field in Case._meta.concrete_fields], values)


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
def release_case(*, case_id: int, user, verb: Verb = Verb.CASE_RELEASED) -> bool:
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
    if not release_case(case_id=case_id, user=user, verb=Verb.CASE_SKIPPED):
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
    return _release_expired(Q(queue_id=queue_id) if queue_id is not None else Q(), now=now, limit=limit)


def _release_expired(where: Q, *, now: datetime | None = None, limit: int = 500) -> int:
    now = now or timezone.now()
    expired = (
        Case.objects.filter(where, assignee__isnull=False, lease_expires_at__lt=now)
        .exclude(status=Case.Status.RESOLVED)
        .order_by("lease_expires_at")
    )
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
                        verb=Verb.CASE_LEASE_EXPIRED,
                        target=Case(pk=case_id),
                        case_id=case_id,
                        data={"assignee": assignee_id},
                    )
                )
        record_events(events)
    return len(events)


def claim_case(*, case_id: int, user) -> Case | None:
    """Claim one named case (picked from the queue list); None if someone else holds a live lease on it.

    An expired lease can be taken over. Same compare-and-set as claim-next, and the same limit: an agent who
    already holds `CASE_MAX_HELD` cases gets HoldLimitReached (naming one of them) and nothing changes. The
    caller checks the user may see the case. Audited (`case.claimed`).
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
        _lock_agent(user)
        _release_expired(Q(assignee_id=user.pk), now=now)
        held = _held_cases(user)
        if len(held) >= settings.CASE_MAX_HELD:
            raise HoldLimitReached(min(held, key=lambda row: (-row[2], row[3]))[0])
        won = Case.objects.filter(
            pk=case_id, status=status, assignee_id=assignee_id, lease_expires_at=lease
        ).update(**_claimed(user, status, now))
        if not won:
            return None
        record_event(
            actor=Actor.for_user(user),
            verb=Verb.CASE_CLAIMED,
            target=Case(pk=case_id),
            case_id=case_id,
            data={"taken_over_from": assignee_id} if assignee_id else {},
        )
    return Case.objects.get(pk=case_id)
