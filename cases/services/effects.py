"""What a final decision sets in motion, for agents and automation alike: the enforcement to deliver and the
author's strike. Called inside the decision's transaction."""

from datetime import timedelta

from django.db.models import Case as CaseExpression
from django.db.models import Count, F, PositiveIntegerField, Q, When
from django.utils import timezone

from cases.models import Decision, Enforcement, Report, Reporter, Strike
from cases.services.enforcement import NOT_ENFORCED, create_enforcement
from cases.services.statements import record_statement
from cases.services.vendor_callbacks import PARTY_TAKING_CALLBACKS, notify_reporting_vendors
from moderation.audit import Actor, Verb, record_event
from moderation.models import Action, Vendor


def decision_takes_effect(decision: Decision) -> None:
    """A final live decision: its reports are judged (reporter and vendor track records), and an enforcing
    action is enforced and gives the author a strike (once).

    Called exactly once per decision, when it first becomes final (a new decision, or a pending one
    confirmed): nothing it creates can exist yet, so each row is one INSERT, not get_or_create's four
    statements; the unique constraints (one enforcement per decision and kind, one statement and one strike
    per decision) still refuse a second run."""
    if decision.mode != Decision.Mode.LIVE:
        return
    record_report_outcomes(decision)
    if decision.action.kind in NOT_ENFORCED:
        return
    if decision.action.duration_hours and decision.effect_expires_at is None:
        decision.effect_expires_at = timezone.now() + timedelta(hours=decision.action.duration_hours)
        Decision.objects.filter(pk=decision.pk).update(effect_expires_at=decision.effect_expires_at)
    create_enforcement(decision=decision, fresh=True)
    record_statement(decision, fresh=True)  # the EU DSA statement of reasons, in the same transaction
    subject = decision.case.subject
    days = decision.policy.strike_days
    # The author of the content version decided on: never whoever a later report names.
    author_id = decided_author(decision)
    if not author_id or days == 0:
        return
    Strike.objects.create(
        decision=decision,
        author_id=author_id,
        subject=subject,
        policy=decision.policy,
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )


def decided_author(decision: Decision) -> str:
    """Whom a decision judged: the author of the version it was taken on (older decisions: the subject's)."""
    if decision.subject_version is not None:
        return decision.author_id
    return decision.case.subject.author_id


def lift_expired_decisions(*, now=None, limit: int = 500) -> int:
    """Timed actions whose time is up get their reversing enforcement (once: one per decision and kind).

    Skips decisions already reversed (an overturned appeal). Audited per decision (`decision.expired`).
    Returns how many were lifted.
    """
    from django.db import transaction

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
                    verb=Verb.DECISION_EXPIRED,
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
    them into each reporter's and vendor's track record. Escalations judge nothing.

    A fixed number of statements however many reporters and vendors the case has: one grouped read of the
    reports (pending ones per vendor and reporter; any party to call back), one UPDATE of the reports, one
    INSERT of the reporters not yet known, and one UPDATE each for the reporters' and the vendors' counters (a
    CASE per row, portable to SQLite)."""

    if decision.action.kind == Action.Kind.ESCALATE:
        return
    outcome = (
        Report.Outcome.REJECTED if decision.action.kind == Action.Kind.NO_VIOLATION else Report.Outcome.UPHELD
    )
    # One grouped read of all the case's reports: the pending ones per (vendor, reporter), and whether any
    # party vendor (`notify_reporting_vendors`) takes callbacks at all; most take none, and then their
    # look-up is not made.
    grouped = list(
        Report.objects.filter(case_id=decision.case_id)
        .values_list("vendor_id", "reporter_id")
        .annotate(
            n=Count("id", filter=Q(outcome=Report.Outcome.PENDING)),
            calls=Count("id", filter=PARTY_TAKING_CALLBACKS),
        )
        .order_by()
    )
    rows = [(vendor_id, reporter_id, n) for vendor_id, reporter_id, n, _ in grouped if n]
    if not rows:
        return
    pending = Report.objects.filter(case_id=decision.case_id, outcome=Report.Outcome.PENDING)
    pending.update(outcome=outcome, judged_by=decision)  # judged_by: an undo puts exactly these back

    if any(calls for *_, calls in grouped):
        notify_reporting_vendors(decision, outcome=outcome)
    counter = "upheld_count" if outcome == Report.Outcome.UPHELD else "rejected_count"
    per_vendor: dict[int, int] = {}
    per_reporter: dict[tuple[int, str], int] = {}
    for vendor_id, reporter_id, n in rows:
        per_vendor[vendor_id] = per_vendor.get(vendor_id, 0) + n
        if reporter_id:  # a report naming no reporter counts for its vendor only
            per_reporter[(vendor_id, reporter_id)] = n
    _count_into_reporters(per_reporter, counter)
    _count_into(
        Vendor.objects.all(), {vendor_id: Q(pk=vendor_id) for vendor_id in per_vendor}, per_vendor, counter
    )


def withdraw_report_outcomes(decision: Decision) -> int:
    """An undone or reopened decision judged nothing after all: the reports it judged are pending again and
    their reporters' and vendors' track records lose the count (the same fixed number of statements as
    counting them in). Returns how many reports went back to pending."""
    judged = Report.objects.filter(judged_by=decision)
    rows = list(judged.values_list("vendor_id", "reporter_id", "outcome").annotate(n=Count("id")).order_by())
    if not rows:
        return 0
    returned = judged.update(outcome=Report.Outcome.PENDING, judged_by=None)
    for outcome in (Report.Outcome.UPHELD, Report.Outcome.REJECTED):
        counter = "upheld_count" if outcome == Report.Outcome.UPHELD else "rejected_count"
        per_vendor: dict[int, int] = {}
        per_reporter: dict[tuple[int, str], int] = {}
        for vendor_id, reporter_id, row_outcome, n in rows:
            if row_outcome != outcome:
                continue
            per_vendor[vendor_id] = per_vendor.get(vendor_id, 0) - n
            if reporter_id:
                per_reporter[(vendor_id, reporter_id)] = per_reporter.get((vendor_id, reporter_id), 0) - n
        where = {pair: Q(vendor_id=pair[0], reporter_id=pair[1]) for pair in per_reporter}
        _count_into(Reporter.objects.all(), where, per_reporter, counter)
        _count_into(
            Vendor.objects.all(),
            {vendor_id: Q(pk=vendor_id) for vendor_id in per_vendor},
            per_vendor,
            counter,
        )
    return returned


# Pairs per statement: keeps each UPDATE well inside every backend's limit on parameters.
_TRACK_RECORD_BATCH = 500


def _count_into_reporters(per_reporter: dict[tuple[int, str], int], counter: str) -> None:

    pairs = list(per_reporter)
    for start in range(0, len(pairs), _TRACK_RECORD_BATCH):
        batch = pairs[start : start + _TRACK_RECORD_BATCH]
        # Reporters seen for the first time get their (zeroed) row; existing rows are left alone, also when
        # a concurrent decision creates the same one first.
        Reporter.objects.bulk_create(
            [Reporter(vendor_id=vendor_id, reporter_id=reporter_id) for vendor_id, reporter_id in batch],
            ignore_conflicts=True,
        )
        where = {pair: Q(vendor_id=pair[0], reporter_id=pair[1]) for pair in batch}
        _count_into(Reporter.objects.all(), where, per_reporter, counter)


def _count_into(rows, where: dict, counts: dict, counter: str) -> None:
    """One UPDATE adding `counts[key]` to `counter` of the row `where[key]` picks, for every key: counters
    move in the database (`counter + n`), so concurrent decisions never lose a count."""
    if not where:
        return
    matches = Q()
    for condition in where.values():
        matches |= condition
    added = CaseExpression(
        *(When(condition, then=F(counter) + counts[key]) for key, condition in where.items()),
        default=F(counter),
        output_field=PositiveIntegerField(),
    )
    rows.filter(matches).update(**{counter: added})
