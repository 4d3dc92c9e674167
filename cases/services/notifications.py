"""Telling vendors what happened to the cases they reported (optional callback URL per vendor).

Created with the decision's report outcomes, delivered on commit by a task, signed like enforcements
(docs/webhooks.md), retried with backoff, then failed. Vendors can always read the outcome back with
`GET /api/v1/cases/{id}` too.
"""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cases.models import Decision, Report, VendorNotification
from cases.services.enforcement import signed_post, state_after_attempt
from moderation.models import Vendor

logger = logging.getLogger(__name__)


def notify_reporting_vendors(decision: Decision, *, outcome: str) -> None:
    """Inside the decision's transaction: one notification per vendor with a callback that reported here."""
    vendor_ids = set(Report.objects.filter(case_id=decision.case_id).values_list("vendor_id", flat=True))
    vendors = Vendor.objects.filter(pk__in=vendor_ids, is_active=True).exclude(callback_url="")
    for vendor in vendors:
        key = f"out_{decision.pk}_{vendor.pk}"
        reports = list(
            Report.objects.filter(case_id=decision.case_id, vendor=vendor).values_list(
                "external_id", flat=True
            )
        )
        notification, created = VendorNotification.objects.get_or_create(
            decision=decision,
            vendor=vendor,
            defaults={
                "case_id": decision.case_id,
                "idempotency_key": key,
                "payload": {
                    "type": "case.decided",
                    "id": key,
                    "case_id": decision.case_id,
                    "outcome": outcome,
                    "decision": {
                        "action": decision.action.code,
                        "policy": decision.policy.code,
                        "automated": decision.automated,
                        "decided_at": decision.created_at.isoformat(),
                    },
                    "reports": reports,
                },
            },
        )
        if created:
            transaction.on_commit(lambda pk=notification.pk: _enqueue(pk), robust=True)


def _enqueue(notification_id: int, attempt: int = 1) -> None:
    from cases.tasks import deliver_vendor_notification

    try:
        deliver_vendor_notification.delay(notification_id, attempt)
    except Exception:
        logger.exception("could not enqueue vendor notification %s", notification_id)


def deliver_vendor_notification(*, notification_id: int, final_attempt: bool) -> bool:
    """One attempt; True if it should be retried later."""
    notification = VendorNotification.objects.select_related("vendor").filter(pk=notification_id).first()
    if notification is None or notification.state != VendorNotification.State.PENDING:
        return False
    vendor = notification.vendor
    error, retryable, status = signed_post(
        url=vendor.callback_url,
        secret=vendor.callback_secret,
        payload=notification.payload,
        key=notification.idempotency_key,
        timeout=10.0,
    )
    state = state_after_attempt(error=error, retryable=retryable, final_attempt=final_attempt)
    now = timezone.now()
    VendorNotification.objects.filter(pk=notification_id, state=VendorNotification.State.PENDING).update(
        state=state,
        attempts=F("attempts") + 1,
        last_error=error,
        last_status=status,
        delivered_at=now if state == VendorNotification.State.DELIVERED else None,
    )
    return state == VendorNotification.State.PENDING
