"""Enforcement: delivering decisions to the platform by signed webhook, reliably and exactly once per key.

- Creating an enforcement happens in the decision's transaction; delivery is enqueued on commit.
- Delivery does its HTTP call outside any transaction and then records the outcome with one UPDATE, so a
  slow platform never holds a database lock.
- The body and the idempotency key are fixed at creation: every retry sends the same bytes, and a platform
  that deduplicates on `Idempotency-Key` applies each enforcement once even if a retry crosses a late
  success. The signature covers a fresh timestamp and the body (`docs/webhooks.md`).
"""

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cases.models import Decision, Enforcement
from moderation import outbound
from moderation.audit import Actor, record_event
from moderation.models import Action, EnforcementEndpoint

logger = logging.getLogger(__name__)
DELIVERY = Actor.system("enforcement")

SIGNATURE_HEADER = "X-Moderation-Signature"
TIMESTAMP_HEADER = "X-Moderation-Timestamp"
EVENT_HEADER = "X-Moderation-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"

SUPERSEDED = "Cancelled: the decision was reversed (appeal or expiry) before this was delivered."

# Actions that change nothing on the platform are recorded, not delivered.
NOT_ENFORCED = (Action.Kind.NO_VIOLATION, Action.Kind.ESCALATE)


def canonical_body(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 over `"<timestamp>." + body`, keyed with the endpoint's secret."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def enforcement_payload(decision: Decision, *, kind: str, key: str) -> dict:
    case = decision.case
    subject = case.subject
    action = decision.action
    policy = decision.policy
    return {
        "type": f"enforcement.{kind}",
        "id": key,
        "decision": {
            "id": decision.pk,
            "action": action.code,
            "enforcement_type": action.enforcement_type or action.kind,
            "duration_hours": action.duration_hours,
            "expires_at": decision.effect_expires_at.isoformat() if decision.effect_expires_at else None,
            "policy": policy.code,
            "dsa_category": policy.dsa_category,
            "automated": decision.automated,
            "decided_at": decision.created_at.isoformat(),
        },
        # The content version decided on and its author: never whatever a later report says.
        "subject": {
            "kind": subject.kind,
            "external_id": subject.external_id,
            "author_id": decision.author_id if decision.subject_version is not None else subject.author_id,
            "content_version": decision.subject_version,
        },
        "case_id": case.pk,
        # What the user is told: the filled-in message template, else the decision's reason, else the
        # policy's explanation.
        "reason": decision.user_message or decision.reason or policy.user_facing_text,
        "created_at": timezone.now().isoformat(),
    }


def create_enforcement(*, decision: Decision, kind: str = Enforcement.Kind.APPLY) -> Enforcement | None:
    """Within the decision's transaction: the enforcement to deliver (once per decision and kind), or None
    for actions the platform need not apply. Delivery is enqueued when the transaction commits."""
    if decision.mode != Decision.Mode.LIVE or decision.action.kind in NOT_ENFORCED:
        return None
    key = f"enf_{decision.pk}_{kind}"
    enforcement, created = Enforcement.objects.get_or_create(
        decision=decision,
        kind=kind,
        defaults={
            "case_id": decision.case_id,
            "idempotency_key": key,
            "payload": enforcement_payload(decision, kind=kind, key=key),
        },
    )
    if created:
        if kind == Enforcement.Kind.REVERSE:
            # An apply that has not reached the platform must never arrive after its reversal.
            Enforcement.objects.filter(
                decision=decision,
                kind=Enforcement.Kind.APPLY,
                state__in=[Enforcement.State.PENDING, Enforcement.State.FAILED],
            ).update(state=Enforcement.State.FAILED, last_error=SUPERSEDED)
        transaction.on_commit(lambda: enqueue_delivery(enforcement.pk), robust=True)
    return enforcement


def enqueue_delivery(enforcement_id: int, *, attempt: int = 1) -> None:
    """A broker outage must not lose the enforcement: it stays pending and the sweeper re-enqueues it."""
    from cases.tasks import deliver_enforcement

    try:
        deliver_enforcement.delay(enforcement_id, attempt)
    except Exception:
        logger.exception("could not enqueue delivery of enforcement %s", enforcement_id)


@dataclass(frozen=True)
class DeliveryOutcome:
    state: str
    retry: bool = False
    error: str = ""


def deliver_enforcement(*, enforcement_id: int, final_attempt: bool) -> DeliveryOutcome:
    """One delivery attempt. Returns whether to try again later (a transient failure, attempts left).

    2xx → delivered. 4xx other than 408/429, a refused address or no configured endpoint → failed at once
    (retrying cannot help until someone changes something; a lead can retry). Timeouts, connection errors
    and 5xx → pending and retried with backoff, until the last attempt → failed.
    """
    enforcement = Enforcement.objects.filter(pk=enforcement_id).first()
    if enforcement is None or enforcement.state != Enforcement.State.PENDING:
        return DeliveryOutcome(enforcement.state if enforcement else "gone")
    if _reversed(enforcement):
        _record_attempt(enforcement, state=Enforcement.State.FAILED, error=SUPERSEDED, status=None)
        return DeliveryOutcome(Enforcement.State.FAILED, error=SUPERSEDED)
    endpoint = EnforcementEndpoint.objects.filter(is_active=True).first()
    status = None
    if endpoint is None:
        error, retryable = (
            "No active enforcement endpoint is configured (admin → Enforcement endpoints).",
            False,
        )
    else:
        error, retryable, status = signed_post(
            url=endpoint.url,
            secret=endpoint.secret,
            payload=enforcement.payload,
            key=enforcement.idempotency_key,
            timeout=endpoint.timeout_seconds,
        )
    state = state_after_attempt(error=error, retryable=retryable, final_attempt=final_attempt)
    _record_attempt(enforcement, state=state, error=error, status=status)
    return DeliveryOutcome(state, retry=state == Enforcement.State.PENDING, error=error)


def state_after_attempt(*, error: str, retryable: bool, final_attempt: bool) -> str:
    """delivered, pending (try again later) or failed; the same for enforcements and vendor callbacks."""
    if not error:
        return Enforcement.State.DELIVERED
    if retryable and not final_attempt:
        return Enforcement.State.PENDING
    return Enforcement.State.FAILED


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


@transaction.atomic
def _record_attempt(enforcement: Enforcement, *, state: str, error: str, status: int | None) -> None:
    now = timezone.now()
    updated = Enforcement.objects.filter(pk=enforcement.pk, state=Enforcement.State.PENDING).update(
        state=state,
        attempts=F("attempts") + 1,
        last_error=error,
        last_status=status,
        last_attempt_at=now,
        next_attempt_at=None,  # the task sets it when it schedules a retry
        delivered_at=now if state == Enforcement.State.DELIVERED else None,
    )
    if updated and state != Enforcement.State.PENDING:
        record_event(
            actor=DELIVERY,
            verb=f"enforcement.{state}",
            target=enforcement,
            case_id=enforcement.case_id,
            data={
                "kind": enforcement.kind,
                "key": enforcement.idempotency_key,
                "status": status,
                "error": error,
            },
        )


@transaction.atomic
def retry_enforcement(*, enforcement_id: int, user) -> Enforcement | None:
    """A lead asks for a failed delivery to be tried again (same body, same idempotency key). Audited."""
    candidate = Enforcement.objects.filter(pk=enforcement_id).first()
    if candidate is None or _reversed(candidate):
        return None  # a reversed decision's apply is never sent again
    updated = Enforcement.objects.filter(pk=enforcement_id, state=Enforcement.State.FAILED).update(
        state=Enforcement.State.PENDING, next_attempt_at=None, last_attempt_at=timezone.now()
    )
    if not updated:
        return None
    enforcement = Enforcement.objects.get(pk=enforcement_id)
    record_event(
        actor=Actor.for_user(user),
        verb="enforcement.retried",
        target=enforcement,
        case_id=enforcement.case_id,
        data={"key": enforcement.idempotency_key, "attempts_so_far": enforcement.attempts},
    )
    transaction.on_commit(lambda: enqueue_delivery(enforcement_id), robust=True)
    return enforcement


def _reversed(enforcement: Enforcement) -> bool:
    return (
        enforcement.kind == Enforcement.Kind.APPLY
        and Enforcement.objects.filter(
            decision_id=enforcement.decision_id, kind=Enforcement.Kind.REVERSE
        ).exists()
    )
