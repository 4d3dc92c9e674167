"""What a final decision sets in motion, for agents and automation alike: the enforcement to deliver and the
author's strike. Called inside the decision's transaction."""

from datetime import timedelta

from django.utils import timezone

from cases.models import Decision, Strike
from cases.services.enforcement import NOT_ENFORCED, create_enforcement


def decision_takes_effect(decision: Decision) -> None:
    """A final live decision: its reports are judged (reporter and vendor track records), and an enforcing
    action is enforced and gives the author a strike (once)."""
    if decision.mode != Decision.Mode.LIVE:
        return
    record_report_outcomes(decision)
    if decision.action.kind in NOT_ENFORCED:
        return
    if decision.action.duration_hours and decision.effect_expires_at is None:
        decision.effect_expires_at = timezone.now() + timedelta(hours=decision.action.duration_hours)
        Decision.objects.filter(pk=decision.pk).update(effect_expires_at=decision.effect_expires_at)
    create_enforcement(decision=decision)
    subject = decision.case.subject
    days = decision.policy.strike_days
    # The author of the content version decided on: never whoever a later report names.
    author_id = decided_author(decision)
    if not author_id or days == 0:
        return
    Strike.objects.get_or_create(
        decision=decision,
        defaults={
            "author_id": author_id,
            "subject": subject,
            "policy": decision.policy,
            "expires_at": timezone.now() + timedelta(days=days) if days else None,
        },
    )


def decided_author(decision: Decision) -> str:
    """Whom a decision judged: the author of the version it was taken on (older decisions: the subject's)."""
    if decision.subject_version is not None:
        return decision.author_id
    return decision.case.subject.author_id


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


def record_report_outcomes(decision: Decision) -> None:
    """Mark the case's undecided reports upheld (an enforcing action) or rejected (no violation), and count
    them into each reporter's and vendor's track record. Escalations judge nothing."""
    from django.db.models import Count, F

    from cases.models import Report, Reporter
    from moderation.models import Action, Vendor

    if decision.action.kind == Action.Kind.ESCALATE:
        return
    outcome = (
        Report.Outcome.REJECTED if decision.action.kind == Action.Kind.NO_VIOLATION else Report.Outcome.UPHELD
    )
    pending = Report.objects.filter(case_id=decision.case_id, outcome=Report.Outcome.PENDING)
    per_reporter = list(
        pending.exclude(reporter_id="").values("vendor_id", "reporter_id").annotate(n=Count("id"))
    )
    per_vendor = list(pending.values("vendor_id").annotate(n=Count("id")))
    if not per_vendor:
        return
    pending.update(outcome=outcome)
    from cases.services.vendor_callbacks import notify_reporting_vendors

    notify_reporting_vendors(decision, outcome=outcome)
    counter = "upheld_count" if outcome == Report.Outcome.UPHELD else "rejected_count"
    for row in per_reporter:
        reporter, _ = Reporter.objects.get_or_create(
            vendor_id=row["vendor_id"], reporter_id=row["reporter_id"]
        )
        Reporter.objects.filter(pk=reporter.pk).update(**{counter: F(counter) + row["n"]})
    for row in per_vendor:
        Vendor.objects.filter(pk=row["vendor_id"]).update(**{counter: F(counter) + row["n"]})


# A reporter's track record counts once they have this many judged reports.
MIN_JUDGED_FOR_ACCURACY = 5


def reporter_weight(case_id: int) -> tuple[int, float]:
    """(muted reporters on the case, track-record factor 0..1 for the others) for the priority score.

    The factor is the mean smoothed accuracy ((upheld + 1) / (judged + 2)) of the case's unmuted reporters
    with enough judged reports; 1.0 when none has a record yet, so new reporters are not penalised.
    """
    from cases.models import Report

    pairs = list(
        Report.objects.filter(case_id=case_id)
        .exclude(reporter_id="")
        .values_list("vendor_id", "reporter_id")
        .distinct()[:200]
    )
    if not pairs:
        return 0, 1.0
    muted = 0
    accuracies = []
    for reporter in reporters_for(pairs).values():
        if reporter.muted_at is not None:
            muted += 1
        elif reporter.judged >= MIN_JUDGED_FOR_ACCURACY:
            accuracies.append((reporter.upheld_count + 1) / (reporter.judged + 2))
    return muted, (sum(accuracies) / len(accuracies)) if accuracies else 1.0


def reporters_for(pairs) -> dict:
    """(vendor id, reporter id) → Reporter for the given pairs that have a record. Two IN lists and a filter
    in Python: cheaper to build than an OR of one clause per pair."""
    from cases.models import Reporter

    pairs = set(pairs)
    if not pairs:
        return {}
    candidates = Reporter.objects.filter(
        vendor_id__in={vendor_id for vendor_id, _ in pairs},
        reporter_id__in={reporter_id for _, reporter_id in pairs},
    )
    return {(r.vendor_id, r.reporter_id): r for r in candidates if (r.vendor_id, r.reporter_id) in pairs}
