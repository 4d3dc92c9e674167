"""What a final decision sets in motion, for agents and automation alike: the enforcement to deliver and the
author's strike. Called inside the decision's transaction."""

from datetime import timedelta

from django.utils import timezone

from cases.models import Decision, Strike
from cases.services.enforcement import NOT_ENFORCED, create_enforcement


def decision_takes_effect(decision: Decision) -> None:
    """Enforce a final live decision and, for an enforcing action, give the author a strike (once)."""
    if decision.mode != Decision.Mode.LIVE or decision.action.kind in NOT_ENFORCED:
        return
    if decision.action.duration_hours and decision.effect_expires_at is None:
        decision.effect_expires_at = timezone.now() + timedelta(hours=decision.action.duration_hours)
        Decision.objects.filter(pk=decision.pk).update(effect_expires_at=decision.effect_expires_at)
    create_enforcement(decision=decision)
    subject = decision.case.subject
    days = decision.policy.strike_days
    if not subject.author_id or days == 0:
        return
    Strike.objects.get_or_create(
        decision=decision,
        defaults={
            "author_id": subject.author_id,
            "subject": subject,
            "policy": decision.policy,
            "expires_at": timezone.now() + timedelta(days=days) if days else None,
        },
    )


def active_strike_count(author_id: str) -> int:
    if not author_id:
        return 0
    from django.db.models import Q

    now = timezone.now()
    return (
        Strike.objects.filter(author_id=author_id, removed_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )


def lift_expired_decisions(*, now=None, limit: int = 500) -> int:
    """Timed actions whose time is up get their reversing enforcement (once: one per decision and kind).

    Skips decisions already reversed (an overturned appeal). Audited per decision (`decision.expired`).
    Returns how many were lifted.
    """
    from django.db import transaction

    from cases.models import Enforcement
    from moderation.audit import Actor, record_event

    now = now or timezone.now()
    due = list(
        Decision.objects.filter(effect_expires_at__lte=now)
        .exclude(enforcements__kind=Enforcement.Kind.REVERSE)
        .select_related("case__subject", "action", "policy")
        .order_by("effect_expires_at")[:limit]
    )
    lifted = 0
    for decision in due:
        with transaction.atomic():
            enforcement = create_enforcement(decision=decision, kind=Enforcement.Kind.REVERSE)
            if enforcement is not None:
                lifted += 1
                record_event(
                    actor=Actor.system("scheduler"),
                    verb="decision.expired",
                    target=decision,
                    case_id=decision.case_id,
                    data={
                        "action": decision.action.code,
                        "expired_at": decision.effect_expires_at.isoformat(),
                    },
                )
    return lifted
