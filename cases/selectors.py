"""Read-side queries for cases and reports."""

import time
from typing import Any

from django.conf import settings

from cases.models import Case, Decision, Report
from moderation.models import Policy, Vendor

_policy_cache: tuple[float, dict[str, Policy]] | None = None


def active_policies_by_code() -> dict[str, Policy]:
    """Active policies by code. Read on every intake call, so cached per process for a few seconds;
    saving a policy clears this process's copy at once (`moderation.apps`), other processes within 5 s."""
    global _policy_cache
    now = time.monotonic()
    if _policy_cache is None or now - _policy_cache[0] > settings.CONFIG_CACHE_SECONDS:
        _policy_cache = (now, {policy.code: policy for policy in Policy.objects.filter(is_active=True)})
    return _policy_cache[1]


def forget_cached_policies(**_kwargs) -> None:
    global _policy_cache
    _policy_cache = None


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


_source_cache: tuple[float, list] | None = None


def enabled_signal_sources() -> list:
    """Enabled scorers, then context providers. Read for every case enriched, so cached per process for a
    few seconds; saving one clears this process's copy at once (`cases.apps`), other workers' within 5 s."""
    from cases.models import ContextProvider, Scorer

    global _source_cache
    now = time.monotonic()
    if _source_cache is None or now - _source_cache[0] > settings.CONFIG_CACHE_SECONDS:
        sources = [*Scorer.objects.filter(is_enabled=True), *ContextProvider.objects.filter(is_enabled=True)]
        _source_cache = (now, sources)
    return _source_cache[1]


def forget_signal_sources(**_kwargs) -> None:
    global _source_cache
    _source_cache = None
