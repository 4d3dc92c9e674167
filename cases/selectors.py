"""Read-side queries for cases and reports."""

import hashlib
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch

from cases.models import (
    AcceptedReport,
    Bank,
    Case,
    ContextProvider,
    Decision,
    Report,
    Scorer,
    Tag,
)
from moderation.config_cache import ConfigCache
from moderation.models import SHORTCUT_KEYS, Action, Policy, Vendor
from queues.models import EscalationRoute, Queue

_policies = ConfigCache(lambda: {policy.code: policy for policy in Policy.objects.filter(is_active=True)})
forget_cached_policies = _policies.forget


def active_policies_by_code() -> dict[str, Policy]:
    """Active policies by code; read on every intake call, so cached (`moderation.config_cache`)."""
    return _policies.get()


def lock_case_for_routing(case_id: int) -> Case | None:
    """The case, row-locked for the current transaction, with what routing reads alongside it: detection
    stores signals and routing places the case on them under this one lock."""
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("subject", "policy", "queue")
        .filter(pk=case_id)
        .first()
    )


def latest_live_decision(case: Case) -> Decision | None:
    return (
        Decision.objects.filter(case=case, mode=Decision.Mode.LIVE, review_state__in=Decision.IN_FORCE)
        .select_related("action", "policy")
        .order_by("-created_at", "-id")
        .first()
    )


def case_outcome_for_vendor(*, vendor: Vendor, case: Case) -> dict[str, Any]:
    """What a vendor may know about a case: status, its own report count and, once decided, the outcome —
    the outcome (and the decision id an appeal names) only for a party to the case: a vendor whose reports
    brought content. Naming a subject id is not enough to learn how someone else's report was judged."""
    party = Report.objects.filter(case=case, vendor=vendor, carried_content=True).exists()
    decision = latest_live_decision(case) if party and case.status == Case.Status.RESOLVED else None
    return {
        "id": case.pk,
        "status": case.status,
        "opened_at": case.opened_at,
        "report_count": Report.objects.filter(case=case, vendor=vendor).count(),
        "decision": None
        if decision is None
        else {
            "id": decision.pk,
            "action": decision.action.code,
            "policy": decision.policy.code,
            "subject_version": decision.subject_version,
            "decided_at": decision.created_at,
            "automated": decision.automated,
        },
    }


def vendor_report(*, vendor: Vendor, report_id: int) -> Report | None:
    """The report, only if this vendor sent it (others' reports are invisible, not forbidden)."""
    return Report.objects.select_related("subject", "case").filter(pk=report_id, vendor=vendor).first()


def vendor_case(*, vendor: Vendor, case_id: int) -> Case | None:
    """The case, only if this vendor's reports brought content to it (a party to it)."""
    return (
        Case.objects.filter(pk=case_id)
        .filter(Exists(Report.objects.filter(case_id=OuterRef("pk"), vendor=vendor, carried_content=True)))
        .first()
    )


_sources = ConfigCache(
    lambda: [*Scorer.objects.filter(is_enabled=True), *ContextProvider.objects.filter(is_enabled=True)]
)
forget_signal_sources = _sources.forget


def enabled_signal_sources() -> list[Scorer | ContextProvider]:
    """Enabled scorers, then context providers; read for every case enriched, so cached."""
    return _sources.get()


def media_url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def allowed_actions(policy_id: int | None) -> list[Action]:
    """Actions allowed under an active policy, for the decision form (escalation has its own button).

    From the cached review configuration: the decision service checks the database again on submit.
    """
    return _review_config.get().actions_by_policy.get(policy_id, []) if policy_id else []


@dataclass
class ReviewConfig:
    policies: list[Policy]
    actions_by_policy: dict[int, list[Action]]
    queues: list
    curated_tags: list[Tag]
    escalation_queue_by_policy: dict[int, int]


def _load_review_config() -> ReviewConfig:
    policies = list(
        Policy.objects.filter(is_active=True)
        .prefetch_related(Prefetch("allowed_actions", queryset=Action.objects.filter(is_active=True)))
        .order_by("-severity", "name")
    )
    # "No violation" actions are offered under every policy (a dismissal needs no permission), last.
    dismissals = list(Action.objects.filter(is_active=True, kind=Action.Kind.NO_VIOLATION).order_by("name"))
    actions = {}
    for policy in policies:
        # In key order (1, 2, …, then letters, then those without a key): each action's key is its own, the
        # same under every policy, so the list reads like the keyboard.
        allowed = sorted(
            (
                action
                for action in policy.allowed_actions.all()
                if action.kind not in (Action.Kind.ESCALATE, Action.Kind.NO_VIOLATION)
            ),
            key=lambda action: (
                not action.shortcut_key,
                SHORTCUT_KEYS.find(action.shortcut_key),
                action.name,
            ),
        )
        actions[policy.pk] = allowed + dismissals
    return ReviewConfig(
        policies=policies,
        actions_by_policy=actions,
        queues=list(Queue.objects.filter(is_active=True).order_by("name")),
        curated_tags=list(Tag.objects.filter(is_curated=True).order_by("slug")[:200]),
        escalation_queue_by_policy=dict(EscalationRoute.objects.values_list("policy_id", "queue_id")),
    )


# What every case page shows the same: policies and their actions, queues to escalate to, curated tags.
# Cached per process (`moderation.config_cache`); saves of those models clear it (`cases.apps`).
_review_config = ConfigCache(_load_review_config)
forget_review_config = _review_config.forget


def review_config() -> ReviewConfig:
    return _review_config.get()


def bulk_choices() -> dict:
    """Policies and actions a lead can pick for a bulk decision (validated again per case)."""
    config = _review_config.get()
    actions = {action.pk: action for listed in config.actions_by_policy.values() for action in listed}
    # Which policies allow each action, so the form offers only the chosen policy's actions.
    under: dict[int, list[str]] = {}
    for policy_id, listed in config.actions_by_policy.items():
        for action in listed:
            if action.kind != Action.Kind.ESCALATE:
                under.setdefault(action.pk, []).append(str(policy_id))
    return {
        "policies": config.policies,
        "actions": [
            {"action": action, "policies": " ".join(under.get(action.pk, []))}
            for action in sorted(actions.values(), key=lambda action: action.name)
            if action.pk in under
        ],
    }


def bank_named(name: str) -> Bank | None:
    return Bank.objects.filter(name=name).first()


def vendor_accepted_report(*, vendor: Vendor, report_id: int) -> AcceptedReport | None:
    """A report this vendor sent accept-first, grouped or not (`report_id` says which report it became)."""
    return AcceptedReport.objects.filter(pk=report_id, vendor=vendor).first()
