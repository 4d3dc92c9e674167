"""Second chances: the decider undoes a decision inside its undo window; a lead reopens or reverses one later.

- `undo_decision`: for `DECISION_UNDO_SECONDS` after an agent's decision its external effects (enforcement
  webhooks with the user's message, vendor callbacks, the DSA statement) are held back; undoing cancels them
  by compare-and-set (a row a worker already claimed refuses the undo: never both sent and undone), reverses
  the internal effects (the strike, report outcomes and track records, so labels change too) and gives the
  case back to the agent, claimed, as it was before the decision. One transaction, audited.
- `withdraw_decision`: a lead reverses a decision in force outside appeals (a reversing enforcement through
  the outbox, the strike removed), and optionally reopens the case for a fresh decision. Reason required.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.models import Case, Decision, StatementOfReasons, Strike
from cases.services import outbox
from cases.services.effects import withdraw_report_outcomes
from cases.services.enforcement import NOT_ENFORCED, create_enforcement
from cases.services.review.common import CaseConflict, ReviewError, clean_text, lock_visible_case
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, Forbidden

WINDOW_CLOSED = "The undo window for this decision has closed: ask a lead to reopen or reverse it."
ALREADY_SENT = "This decision is already being sent to the platform: ask a lead to reverse it instead."


@transaction.atomic(durable=True)
def undo_decision(*, case_id: int, user, decision_id: int) -> Decision:
    """The agent who made a decision takes it back inside its undo window. Returns the undone decision.

    Conflict (409) for a second undo, an undo after the window, someone else's decision, or when an effect
    was already claimed for sending; nothing changes then. Audited (`decision.undone`)."""
    now = timezone.now()
    case = lock_visible_case(case_id, user)
    decision = (
        Decision.objects.select_for_update(of=("self",))
        .select_related("action", "policy")
        .filter(pk=decision_id, case=case, mode=Decision.Mode.LIVE, automated=False)
        .first()
    )
    if decision is None or decision.decided_by_id != user.pk:
        raise Conflict("Only the agent who made this decision can undo it.", field="decision")
    if decision.review_state == Decision.ReviewState.UNDONE:
        raise Conflict("This decision was already undone.", field="decision")
    if (
        decision.review_state != Decision.ReviewState.FINAL
        or decision.undo_until is None
        or decision.undo_until <= now
        or case.status != Case.Status.RESOLVED
    ):
        raise Conflict(WINDOW_CLOSED, field="decision")
    # External effects first: if any was claimed for sending, the whole undo is refused (rolled back).
    for kind in outbox.KINDS:
        if not outbox.cancel_held(kind=kind, decision_id=decision.pk):
            raise Conflict(ALREADY_SENT, field="decision")
    statements = StatementOfReasons.objects.filter(decision=decision)
    if (
        statements.exclude(state=StatementOfReasons.State.FAILED)
        .exclude(state=StatementOfReasons.State.PENDING, claimed_until__isnull=True)
        .exists()
    ):
        raise Conflict(ALREADY_SENT, field="decision")
    statements.delete()  # never submitted: the Transparency Database never hears of it
    strikes = Strike.objects.filter(decision=decision, removed_at__isnull=True).update(
        removed_at=now, removed_reason="decision undone"
    )
    reports = withdraw_report_outcomes(decision)
    Decision.objects.filter(pk=decision.pk).update(
        review_state=Decision.ReviewState.UNDONE,
        withdrawn_at=now,
        withdrawn_by=user,
        effect_expires_at=None,  # nothing to lift later
        undo_until=None,
    )
    # Back to the agent, claimed, exactly where it was before the decision (open or escalated).
    case.status = decision.status_before or Case.Status.OPEN
    case.assignee = user
    case.claimed_at = now
    case.lease_expires_at = now + timedelta(seconds=settings.CASE_LEASE_SECONDS)
    case.resolved_at = None
    case.version += 1
    case.save(
        update_fields=[
            "status",
            "assignee",
            "claimed_at",
            "lease_expires_at",
            "resolved_at",
            "version",
            "updated_at",
        ]
    )
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.DECISION_UNDONE,
        target=decision,
        case_id=case.pk,
        data={
            "action": decision.action.code,
            "policy": decision.policy.code,
            "seconds_after": round((now - decision.created_at).total_seconds(), 1),
            "strikes_removed": strikes,
            "reports_reopened": reports,
        },
    )
    decision.review_state = Decision.ReviewState.UNDONE
    return decision


def can_withdraw(user) -> bool:
    return user.is_superuser or user.has_perm("cases.reverse_decision")


@transaction.atomic(durable=True)
def withdraw_decision(
    *, case_id: int, user, reason: str, reopen: bool, expected_version: int | None
) -> Decision:
    """A lead reverses the decision in force on a resolved case, outside appeals: an enforcing action gets
    its reversing enforcement (through the outbox; an apply not yet sent is superseded, never sent after
    it) and the author's strike is removed. `reopen`: the case also goes back to its queue, unclaimed, with
    its reports pending again, for a fresh decision. Reason required. Audited (`decision.reversed`, and
    `case.reopened`). Forbidden for anyone but a lead; CaseConflict when nothing is in force any more."""
    if not can_withdraw(user):
        raise Forbidden("Only leads can reopen or reverse a decision.")
    now = timezone.now()
    case = lock_visible_case(case_id, user)
    reason = clean_text(reason, field="withdraw_reason", required=True)
    if case.status != Case.Status.RESOLVED or case.kind == Case.Kind.APPEAL:
        raise CaseConflict("Only a decided case (not an appeal) can be reopened or reversed.", case)
    if expected_version is not None and expected_version != case.version:
        raise CaseConflict("This case changed while you had it open. Reload it and check again.", case)
    decision = (
        case.decisions.select_for_update(of=("self",))
        .filter(mode=Decision.Mode.LIVE, review_state__in=Decision.IN_FORCE)
        .select_related("action", "policy", "case__subject")
        .first()
    )
    if decision is None:
        raise CaseConflict("No decision is in force on this case.", case)
    if hasattr(decision, "appeal") and decision.appeal.state == "open":
        raise ReviewError("This decision is under appeal: the appeal decides it.", field="withdraw_reason")
    enforced = decision.action.kind not in NOT_ENFORCED
    if enforced:
        create_enforcement(decision=decision, kind="reverse")
        Strike.objects.filter(decision=decision, removed_at__isnull=True).update(
            removed_at=now, removed_reason="decision reversed by a lead"
        )
    Decision.objects.filter(pk=decision.pk).update(
        review_state=Decision.ReviewState.REVERSED,
        withdrawn_at=now,
        withdrawn_by=user,
        withdrawn_reason=reason,
        undo_until=None,
    )
    actor = Actor.for_user(user)
    data = {"action": decision.action.code, "policy": decision.policy.code, "reopened": reopen}
    record_event(actor=actor, verb=Verb.DECISION_REVERSED, target=decision, case_id=case.pk, data=data)
    case.version += 1
    fields = ["version", "updated_at"]
    if reopen:
        data["reports_reopened"] = withdraw_report_outcomes(decision)
        case.status = Case.Status.OPEN
        case.resolved_at = None
        case.assignee = None
        case.claimed_at = None
        case.lease_expires_at = None
        fields += ["status", "resolved_at", "assignee", "claimed_at", "lease_expires_at"]
        record_event(actor=actor, verb=Verb.CASE_REOPENED, target=case, case_id=case.pk, data=data)
    case.save(update_fields=fields)
    decision.review_state = Decision.ReviewState.REVERSED
    return decision
