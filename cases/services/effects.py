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
