"""Vendor callbacks: telling the vendors that are parties to a case its outcome (optional callback URL).

A vendor is a party when one of its reports on the case brought content (`Report.carried_content`); a report
that only named the subject's id must not learn how someone else's report was judged. The callbacks are
outbox rows (`cases.services.outbox`), created with the decision's report outcomes and delivered, retried,
swept and failed like enforcements. Every party can also read the outcome back with `GET /api/v1/cases/{id}`.
"""

from django.db.models import Q
from django.utils import timezone

from cases.models import Decision, Report, VendorCallback
from cases.services import outbox

# A report that makes its vendor a party (it brought content) whose vendor takes callbacks.
PARTY_TAKING_CALLBACKS = (
    Q(carried_content=True, vendor__is_active=True)
    & ~Q(vendor__callback_url="")
    & ~Q(vendor__callback_secret="")
)


def notify_reporting_vendors(decision: Decision, *, outcome: str) -> list[VendorCallback]:
    """Inside the decision's transaction: one callback per party vendor with a callback URL and secret that
    has none for this decision yet, enqueued on commit. Two queries however many vendors reported."""
    reports = list(
        Report.objects.filter(PARTY_TAKING_CALLBACKS, case_id=decision.case_id)
        .exclude(vendor__vendor_callbacks__decision=decision)
        .order_by("vendor_id", "received_at", "id")
        .values_list("vendor_id", "external_id")
    )
    report_ids: dict[int, list[str]] = {}
    for vendor_id, external_id in reports:
        report_ids.setdefault(vendor_id, []).append(external_id)
    now = timezone.now()
    held = outbox.held_until(decision)  # the undo window: sent once it closes
    callbacks = VendorCallback.objects.bulk_create(
        VendorCallback(
            vendor_id=vendor_id,
            decision=decision,
            case_id=decision.case_id,
            idempotency_key=f"out_{decision.pk}_{vendor_id}",
            payload=callback_payload(
                decision, key=f"out_{decision.pk}_{vendor_id}", outcome=outcome, reports=ids
            ),
            **outbox.hold_fields(held, now),
        )
        for vendor_id, ids in report_ids.items()
    )
    if held is None:
        outbox.enqueue_on_commit(outbox.VENDOR_CALLBACK, [callback.pk for callback in callbacks])
    return callbacks


def callback_payload(decision: Decision, *, key: str, outcome: str, reports: list[str]) -> dict:
    """The `case.decided` body: the outcome and the vendor's own reports that made it a party."""
    return {
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
    }
