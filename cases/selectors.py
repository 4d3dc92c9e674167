"""Read-side queries for cases and reports."""

from typing import Any

from cases.models import Case, ContextProvider, Decision, Report, Scorer
from moderation.config_cache import ConfigCache
from moderation.models import Policy, Vendor

_policies = ConfigCache(lambda: {policy.code: policy for policy in Policy.objects.filter(is_active=True)})
forget_cached_policies = _policies.forget


def active_policies_by_code() -> dict[str, Policy]:
    """Active policies by code; read on every intake call, so cached (`moderation.config_cache`)."""
    return _policies.get()


def latest_live_decision(case: Case) -> Decision | None:
    return (
        Decision.objects.filter(case=case, mode=Decision.Mode.LIVE)
        .select_related("action", "policy")
        .order_by("-created_at", "-id")
        .first()
    )


def case_outcome_for_vendor(*, vendor: Vendor, case: Case) -> dict[str, Any]:
    """What a vendor may know about a case: status, its own report count and, once decided, the outcome."""
    decision = latest_live_decision(case) if case.status == Case.Status.RESOLVED else None
    return {
        "id": case.pk,
        "status": case.status,
        "opened_at": case.opened_at,
        "report_count": Report.objects.filter(case=case, vendor=vendor).count(),
        "decision": None
        if decision is None
        else {
            "action": decision.action.code,
            "policy": decision.policy.code,
            "decided_at": decision.created_at,
            "automated": decision.automated,
        },
    }


def vendor_report(*, vendor: Vendor, report_id: int) -> Report | None:
    """The report, only if this vendor sent it (others' reports are invisible, not forbidden)."""
    return Report.objects.select_related("subject", "case").filter(pk=report_id, vendor=vendor).first()


def vendor_case(*, vendor: Vendor, case_id: int) -> Case | None:
    """The case, only if this vendor reported on it."""
    return Case.objects.filter(pk=case_id, reports__vendor=vendor).distinct().first()


_sources = ConfigCache(
    lambda: [*Scorer.objects.filter(is_enabled=True), *ContextProvider.objects.filter(is_enabled=True)]
)
forget_signal_sources = _sources.forget


def enabled_signal_sources() -> list[Scorer | ContextProvider]:
    """Enabled scorers, then context providers; read for every case enriched, so cached."""
    return _sources.get()
