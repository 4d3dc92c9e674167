"""The outbox: every signed webhook we send (enforcements to the platform, vendor callbacks to vendors) is a
row that one module enqueues, claims, delivers, backs off, sweeps and retries (`docs/webhooks.md`).

The rules, the same for both kinds:

- Rows are created inside the transaction of the change that causes them (the decision) and enqueued when
  it commits. A broker that refuses the message loses nothing: the row stays pending, marked as held by no
  task (`next_attempt_at` NULL), and the next sweep enqueues it again.
- Only the worker that **claims** the row by compare-and-set makes the HTTP call (healthchecks' sendalerts):
  one UPDATE that succeeds only on a pending row that is due, not claimed by anyone else and has as many
  attempts as this worker read. So a sweeper's task and a countdown task (or a message the broker delivered
  twice) never both send one attempt: the loser sees 0 rows updated and drops its message. The claim lasts
  longer than the call can take (the timeout plus a margin), so a worker that died mid-call frees the row
  for the sweeper later.
- The HTTP call happens outside any transaction; the outcome is recorded with one UPDATE that compares on
  the claim, with its audit event in the same transaction; then a retry is scheduled with a countdown.
- The body and idempotency key are fixed at creation: every attempt sends the same bytes, and the receiver
  applies each key once even when a retry crosses a success whose answer was lost.
- 2xx is delivered; a refusal (4xx but 408/429, a blocked address, nothing to send to) fails at once; a
  transient failure (5xx, 408, 429, timeout, connection error) is retried with exponential backoff and
  jitter until the kind's attempt limit, then failed. A lead can retry a failed row (a fresh set of attempts).
"""

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.models import Enforcement, OutboxMessage, VendorCallback
from moderation import outbound, taskdefs
from moderation.audit import Actor, Verb, record_event
from moderation.models import EnforcementEndpoint

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Moderation-Signature"
TIMESTAMP_HEADER = "X-Moderation-Timestamp"
EVENT_HEADER = "X-Moderation-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"

SUPERSEDED = "Cancelled: the decision was reversed (appeal or expiry) before this was delivered."
UNDONE = "Cancelled: the decision was undone inside its undo window, before anything was sent."
NO_ENDPOINT = "No active enforcement endpoint is configured (admin → Enforcement endpoints)."
NO_CALLBACK = "The vendor has no callback URL and secret any more (admin → Vendors)."

# A claim outlives the HTTP call it covers by OUTBOX_CLAIM_MARGIN_SECONDS (loading and recording the row, a
# slow database): after a worker died mid-call, the sweeper may take the row once the claim has run out.
LONGEST_CALL_SECONDS = 60.0  # `outbound.request` ends every exchange by then, whatever timeout it is given
# A countdown task may run a little before the `next_attempt_at` another machine's clock wrote.
CLOCK_SKEW_SECONDS = 2
BACKOFF_CAP_SECONDS = 3600
SWEEP_BATCH = 500

PENDING = OutboxMessage.State.PENDING
DELIVERED = OutboxMessage.State.DELIVERED
FAILED = OutboxMessage.State.FAILED
CANCELLED = OutboxMessage.State.CANCELLED


@dataclass(frozen=True)
class Destination:
    url: str
    secret: str
    timeout: float


@dataclass(frozen=True)
class Kind:
    """What differs between the kinds: the table, where it goes, its limits, its audit verbs and task."""

    name: str  # audit verbs `<name>.delivered|failed|retried`, the delivering system actor's label
    model: type[OutboxMessage]
    task: str  # the name of its delivery task (one attempt at one row), sent by name
    max_attempts: Callable[[], int]
    destination: Callable[[OutboxMessage], Destination | str]  # or why there is nowhere to send it
    audit_data: Callable[[OutboxMessage], dict]
    cancelled: Callable[[OutboxMessage], str] = lambda message: ""  # why it must never be sent, if so
    select_related: tuple[str, ...] = ()

    def rows(self):
        queryset = self.model.objects.all()
        return queryset.select_related(*self.select_related) if self.select_related else queryset

    @property
    def actor(self) -> Actor:
        return Actor.system(self.name)

    def verb(self, outcome: str) -> Verb:
        """`enforcement.delivered`, `vendor_callback.retried`...: members of the audit verb enumeration."""
        return Verb(f"{self.name}.{outcome}")


def _enforcement_destination(enforcement: Enforcement) -> Destination | str:
    endpoint = EnforcementEndpoint.objects.filter(is_active=True).first()
    if endpoint is None:
        return NO_ENDPOINT
    return Destination(url=endpoint.url, secret=endpoint.secret, timeout=endpoint.timeout_seconds)


def reversed_before_delivery(enforcement: Enforcement) -> bool:
    """An apply whose decision has a reversing enforcement: never sent (again) after its reversal."""
    return (
        enforcement.kind == Enforcement.Kind.APPLY
        and Enforcement.objects.filter(
            decision_id=enforcement.decision_id, kind=Enforcement.Kind.REVERSE
        ).exists()
    )


def _vendor_callback_destination(callback: VendorCallback) -> Destination | str:
    vendor = callback.vendor
    if not vendor.callback_url or not vendor.callback_secret:
        return NO_CALLBACK
    return Destination(
        url=vendor.callback_url,
        secret=vendor.callback_secret,
        timeout=settings.VENDOR_CALLBACK_TIMEOUT_SECONDS,
    )


ENFORCEMENT = Kind(
    name="enforcement",
    model=Enforcement,
    task="cases.deliver_enforcement",
    max_attempts=lambda: settings.ENFORCEMENT_MAX_ATTEMPTS,
    destination=_enforcement_destination,
    audit_data=lambda enforcement: {"kind": enforcement.kind},
    cancelled=lambda enforcement: SUPERSEDED if reversed_before_delivery(enforcement) else "",
)
VENDOR_CALLBACK = Kind(
    name="vendor_callback",
    model=VendorCallback,
    task="cases.deliver_vendor_callback",
    max_attempts=lambda: settings.VENDOR_CALLBACK_MAX_ATTEMPTS,
    destination=_vendor_callback_destination,
    audit_data=lambda callback: {"vendor": callback.vendor.slug},
    select_related=("vendor",),
)
KINDS = (ENFORCEMENT, VENDOR_CALLBACK)


# --- signing ------------------------------------------------------------------------------------------------


def canonical_body(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 over `"<timestamp>." + body`, keyed with the receiver's secret."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signed_post(
    *, url: str, secret: str, payload: dict, key: str, timeout: float
) -> tuple[str, bool, int | None]:
    """POST `payload` signed with `secret` (see docs/webhooks.md); returns (error or "", retryable, status)."""
    body = canonical_body(payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        IDEMPOTENCY_HEADER: key,
        EVENT_HEADER: payload.get("type", ""),
    }
    try:
        response = outbound.request("POST", url, headers=headers, data=body, timeout=timeout)
    except outbound.OutboundError as exc:
        return str(exc)[:500] or exc.__class__.__name__, exc.retryable, getattr(exc, "status", None)
    return "", False, response.status


# --- the undo window ----------------------------------------------------------------------------------------


def held_until(decision) -> datetime | None:
    """Until when a decision's external effects are held back (its undo window), or None: send at once."""
    until = decision.undo_until
    return until if until is not None and until > timezone.now() else None


def hold_fields(held: datetime | None, now: datetime) -> dict:
    """A new row's schedule: due now and held by the task enqueued on commit, or held for the undo window
    (no task: `release_held` enqueues it once the window closes; not claimable before, clock skew included)."""
    if held is None:
        return {"next_attempt_at": now}
    return {"held_until": held, "next_attempt_at": held + timedelta(seconds=CLOCK_SKEW_SECONDS)}


def release_held(*, kind: Kind) -> int:
    """Rows whose undo window has closed (and were not cancelled by an undo) are enqueued. Returns how many.

    Released by compare-and-set on `held_until`, so two sweepers never both enqueue one row (and a duplicate
    would still be harmless: only the worker that claims a row sends it)."""
    now = timezone.now()
    due = Q(state=PENDING, held_until__isnull=False, held_until__lte=now)
    ids = list(
        kind.model.objects.filter(due).order_by("held_until").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    released = [
        pk for pk in ids if kind.model.objects.filter(due, pk=pk).update(held_until=None, next_attempt_at=now)
    ]
    return enqueue(kind, released) if released else 0


def cancel_held(*, kind: Kind, decision_id: int) -> bool:
    """Inside an undo's transaction: cancel every row of the decision that was never attempted nor claimed.
    False (and nothing changed for the caller to keep) when one already is claimed or was sent: the undo must
    then be refused, so a row is never both delivered and undone. A worker claiming at the same moment waits
    on the row lock and then finds the row no longer pending."""
    rows = kind.model.objects.filter(decision_id=decision_id)
    total = rows.exclude(state=CANCELLED).count()
    cancelled = rows.filter(state=PENDING, attempts=0, claimed_until__isnull=True).update(
        state=CANCELLED, held_until=None, next_attempt_at=None, last_error=UNDONE
    )
    return cancelled == total


# --- enqueueing ---------------------------------------------------------------------------------------------


def enqueue_on_commit(kind: Kind, message_ids: list[int]) -> None:
    """Inside the creating transaction: hand the rows to delivery tasks once it commits."""
    if message_ids:
        transaction.on_commit(lambda: enqueue(kind, message_ids), robust=True)


def enqueue(kind: Kind, message_ids: list[int], *, countdown: float | None = None) -> int:
    """Send one delivery task per row. A message the broker refuses is logged, never raised (the change that
    made the row has committed), and its row is marked as held by no task, so the next sweep takes it.
    Returns how many were sent."""
    refused = []
    for message_id in message_ids:
        try:
            if countdown is None:
                taskdefs.enqueue(kind.task, message_id)
            else:
                taskdefs.enqueue(kind.task, message_id, countdown=countdown)
        except Exception:
            logger.exception("could not enqueue %s %s", kind.name, message_id)
            refused.append(message_id)
    if refused:
        kind.model.objects.filter(pk__in=refused, state=PENDING, claimed_until__isnull=True).update(
            next_attempt_at=None
        )
    return len(message_ids) - len(refused)


# --- one attempt --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    state: str  # delivered, pending (a retry is scheduled), failed; "gone"; or the state found
    retry: bool = False
    error: str = ""
    countdown: float | None = None  # when the retry is due, if one was scheduled
    claimed: bool = True  # False: not due, or another worker holds it; this attempt sent nothing


def claim(kind: Kind, message: OutboxMessage, *, lease_seconds: float, now: datetime) -> datetime | None:
    """Compare-and-set: the row becomes this worker's until the returned time, or None if it is not due,
    already claimed, no longer pending, or was attempted since it was read."""
    claimed_until = now + timedelta(seconds=lease_seconds)
    won = (
        kind.model.objects.filter(pk=message.pk, state=PENDING, attempts=message.attempts)
        .filter(
            Q(next_attempt_at__isnull=True)
            | Q(next_attempt_at__lte=now + timedelta(seconds=CLOCK_SKEW_SECONDS))
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=claimed_until)
    )
    return claimed_until if won else None


def deliver(*, kind: Kind, message_id: int, eager: bool = False) -> DeliveryOutcome:
    """One attempt at delivering a row, if it is due and this worker wins its claim. Called by the delivery
    tasks, outside any transaction: the HTTP call holds no database lock. Without a broker (`eager`,
    development) there is no later: the attempt is final, and a failure shows to leads at once."""
    message = kind.rows().filter(pk=message_id).first()
    if message is None:
        return DeliveryOutcome("gone", claimed=False)
    if message.state != PENDING:
        return DeliveryOutcome(message.state, claimed=False)
    # Why this attempt cannot send anything (reversed, nowhere to send to), or where it goes.
    refusal = kind.cancelled(message)
    destination = kind.destination(message) if not refusal else None
    if isinstance(destination, str):
        refusal, destination = destination, None
    timeout = min(destination.timeout, LONGEST_CALL_SECONDS) if destination else 0.0
    claimed_until = claim(
        kind, message, lease_seconds=timeout + settings.OUTBOX_CLAIM_MARGIN_SECONDS, now=timezone.now()
    )
    if claimed_until is None:
        return DeliveryOutcome(PENDING, claimed=False)

    if destination is None:
        # Retrying cannot help until someone changes something (then a lead retries).
        error, retryable, status = refusal, False, None
    else:
        error, retryable, status = signed_post(
            url=destination.url,
            secret=destination.secret,
            payload=message.payload,
            key=message.idempotency_key,
            timeout=destination.timeout,
        )
    attempt = message.attempts - message.attempts_before_retry + 1
    final = eager or attempt >= kind.max_attempts()
    state = DELIVERED if not error else PENDING if retryable and not final else FAILED
    countdown = (
        taskdefs.backoff_seconds(
            attempt, base=settings.ENFORCEMENT_RETRY_BASE_SECONDS, cap=BACKOFF_CAP_SECONDS
        )
        if state == PENDING
        else None
    )
    recorded = _record_attempt(
        kind,
        message,
        claimed_until=claimed_until,
        state=state,
        error=error,
        status=status,
        countdown=countdown,
    )
    if not recorded:
        # The claim ran out and another worker took the row: its outcome stands, not this one.
        logger.warning("%s %s: claim lost before the outcome was recorded", kind.name, message_id)
        return DeliveryOutcome(PENDING, error=error, claimed=False)
    if state == PENDING:
        enqueue(kind, [message_id], countdown=countdown)  # recorded (committed) first: the row says when
    return DeliveryOutcome(state, retry=state == PENDING, error=error, countdown=countdown)


@transaction.atomic
def _record_attempt(
    kind: Kind,
    message: OutboxMessage,
    *,
    claimed_until: datetime,
    state: str,
    error: str,
    status: int | None,
    countdown: float | None,
) -> bool:
    now = timezone.now()
    updated = kind.model.objects.filter(pk=message.pk, state=PENDING, claimed_until=claimed_until).update(
        state=state,
        attempts=F("attempts") + 1,
        last_error=error,
        last_status=status,
        last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=countdown) if countdown is not None else None,
        claimed_until=None,
        delivered_at=now if state == DELIVERED else None,
    )
    if not updated:
        return False
    if state != PENDING:
        record_event(
            actor=kind.actor,
            verb=kind.verb(state),
            target=message,
            case_id=message.case_id,
            data=kind.audit_data(message)
            | {"key": message.idempotency_key, "status": status, "error": error},
        )
    return True


# --- a lead's retry and the sweeper -------------------------------------------------------------------------


@transaction.atomic
def retry(*, kind: Kind, message_id: int, user) -> OutboxMessage | None:
    """A lead asks for a failed delivery to be tried again: same body, same idempotency key, and the kind's
    full number of attempts. None if there is nothing to retry (not failed) or it must never be sent."""
    candidate = kind.model.objects.filter(pk=message_id).first()
    if candidate is None or kind.cancelled(candidate):
        return None  # e.g. a reversed decision's apply is never sent again
    now = timezone.now()
    updated = kind.model.objects.filter(pk=message_id, state=FAILED).update(
        state=PENDING,
        attempts_before_retry=F("attempts"),
        next_attempt_at=now,
        claimed_until=None,
    )
    if not updated:
        return None
    message = kind.rows().get(pk=message_id)
    record_event(
        actor=Actor.for_user(user),
        verb=kind.verb("retried"),
        target=message,
        case_id=message.case_id,
        data={"key": message.idempotency_key, "attempts_so_far": message.attempts},
    )
    enqueue_on_commit(kind, [message_id])
    return message


def sweep(*, kind: Kind) -> int:
    """Pending rows that no task holds are enqueued again: the broker refused them (no task holds them), or
    their task was lost (never run, or its scheduled retry is long overdue: a worker died, the broker lost
    the message). A row merely waiting out its backoff, or claimed by a worker now, is left alone.

    Sending again is safe: a task delivers only a row it claims, and the receiver sees the same key."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ENFORCEMENT_STALE_SECONDS)
    lost = (
        Q(state=PENDING)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=stale))
        & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )
    ids = list(
        kind.model.objects.filter(lost).order_by("created_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    if not ids:
        return 0
    # Held by a task again from now: the next sweep leaves them alone for the stale window.
    kind.model.objects.filter(lost, pk__in=ids).update(next_attempt_at=now)
    sent = enqueue(kind, ids)
    logger.warning("swept %d pending %s row(s), %d enqueued", len(ids), kind.name, sent)
    return sent
