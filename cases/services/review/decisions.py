"""Deciding a case, for agents and automation alike: one path that records the decision, moves the case on,
audits it and sets its effects in motion (enforcement on commit, the author's strike, reporter and vendor
track records: `cases.services.effects.decision_takes_effect`).

- `record_decision`: the agent holding the case decides it (or a lead's bulk decision); four eyes where a
  policy asks for them, then `confirm_decision` by another agent.
- `decide_automatically`: a live routing rule decides an untouched case (routing asks, this decides).
- `record_shadow_decision`: a rule in shadow mode notes what it would have decided; nothing changes.
Every write is one transaction with its audit event. Decisions take the case version the agent saw
(optimistic locking): if the case was decided, claimed by someone else or moved meanwhile, they raise
CaseConflict and change nothing, so nothing is silently overwritten.
"""

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cases.evidence import case_evidence
from cases.models import Case, Decision, Report
from cases.services.effects import decision_takes_effect
from cases.services.enforcement import NOT_ENFORCED
from cases.services.messages import choose_template, fill_user_message
from cases.services.review.common import (
    CaseConflict,
    ReviewError,
    check_can_act,
    clean_text,
    lock_visible_case,
    move_case_on,
    protection_of,
    refuse_if_protected,
)
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Forbidden
from moderation.metrics import count_automated_decision_on_commit
from moderation.models import Action, Policy

ROUTER = Actor.system("router")


@transaction.atomic
def record_decision(
    *,
    case_id: int,
    user,
    policy_id: int | None,
    action_id: int | None,
    reason: str = "",
    notes: str = "",
    expected_version: int | None,
    subject_version: int | None = None,
    must_hold: bool = True,
    batch: bool = False,
) -> Decision:
    """Record an agent's decision on the case they hold. Audited. Returns the decision.

    - Normally the case is resolved and the decision takes effect (enforcement on commit, strike):
      `decision.recorded`.
    - Under a policy that requires a second review, an enforcing decision waits for another agent
      (`pending_confirmation`, nothing enforced yet): `decision.awaiting_confirmation`.
    - On a case awaiting confirmation, a different agent's decision overturns the pending one and is final
      (`decision.overturned`); the first decider may not (Forbidden).
    `reason` is the text for the user and reporter; `notes` stay internal. The action must be active and
    allowed under the (active) policy ("no violation" always is); escalation has its own service.
    `subject_version` is the content version the agent decided on (default: the one the case shows); the
    decision records it and its author, which enforcement, the strike and an appeal then use. Only the agent
    holding the case decides it (`must_hold`; a lead's bulk or campaign decision is the one exception), and a
    `batch` never decides a protected subject, whoever runs it. Raises
    ReviewError (bad input), Forbidden (a protected subject, one's own pending decision), CaseConflict (the
    case changed meanwhile, or is not held) or CaseNotVisible.
    """
    now = timezone.now()
    case = lock_visible_case(case_id, user)
    check_can_act(case, user, expected_version, now, must_hold=must_hold)
    if case.kind == Case.Kind.APPEAL:
        raise ReviewError("An appeal is upheld or overturned, not decided again.", field="action")
    refuse_if_protected(case, user, batch=batch)
    policy = Policy.objects.filter(pk=policy_id, is_active=True).first() if policy_id else None
    if policy is None:
        raise ReviewError("Choose a policy.", field="policy")
    action = allowed_action(policy, action_id)
    if action is None:
        raise ReviewError(f"Choose one of the actions allowed under {policy.name}.", field="action")
    if action.kind == Action.Kind.ESCALATE:
        raise ReviewError("Use Escalate to send the case to another queue.", field="action")
    reason = clean_text(reason, field="reason")
    notes = clean_text(notes, field="notes")
    evidence = _evidence_decided_on(case, subject_version)
    # The template is chosen once; filled before the decision exists (to refuse an unfillable one) and, if
    # the appeal link needs the decision's id, once more after.
    template = choose_template(policy=policy, action=action, language=case.subject.language)
    message = fill_user_message(
        template, subject=case.subject, policy=policy, action=action, reason=reason, decision_id=None
    )
    if message.unfilled:
        raise ReviewError(
            f"The message to the user still has {', '.join(message.unfilled)}: write a reason, or ask an "
            "admin to fix the message template.",
            field="reason",
        )
    actor = Actor.for_user(user)
    overturned = None
    if case.status == Case.Status.PENDING_CONFIRMATION:
        # A second reviewer deciding otherwise overturns the pending decision; theirs is final.
        overturned = _pending_decision(case)
        _refuse_own_review(overturned, user)
    needs_second_review = (
        overturned is None and action.kind not in NOT_ENFORCED and _requires_second_review(case, policy)
    )
    # The decider's second chance: an agent's final decision (not a lead's batch, not one overturning
    # another's) may be undone for DECISION_UNDO_SECONDS; its external effects wait until then.
    undoable = must_hold and overturned is None and not needs_second_review and settings.DECISION_UNDO_SECONDS
    decision = Decision(
        case=case,
        policy=policy,
        action=action,
        mode=Decision.Mode.LIVE,
        automated=False,
        decided_by=user,
        undo_until=now + timedelta(seconds=settings.DECISION_UNDO_SECONDS) if undoable else None,
        status_before=case.status,
        reason=reason,
        notes=notes,
        subject_version=evidence.version,
        author_id=evidence.author_id,
        review_state=Decision.ReviewState.PENDING if needs_second_review else Decision.ReviewState.FINAL,
    )
    decision.decided_version_row = evidence  # the statement of reasons reads it (no second query)
    _save_with_message(decision, template, reason=reason)
    data = {
        "policy": policy.code,
        "action": action.code,
        "queue": case.queue.slug if case.queue_id else None,
        "subject_version": evidence.version,
        "author_id": evidence.author_id,
    }
    if overturned is not None:
        _close_review(overturned, user, Decision.ReviewState.OVERTURNED, now)
        record_event(
            actor=actor,
            verb=Verb.DECISION_OVERTURNED,
            target=overturned,
            case_id=case.pk,
            data={"by_decision": decision.pk, "first_decider": overturned.decided_by_id},
        )
    if needs_second_review:
        move_case_on(case, status=Case.Status.PENDING_CONFIRMATION, now=now)
        record_event(
            actor=actor, verb=Verb.DECISION_AWAITING_CONFIRMATION, target=decision, case_id=case.pk, data=data
        )
        return decision
    _take_effect(
        case,
        decision,
        status=Case.Status.RESOLVED,
        now=now,
        actor=actor,
        verb=Verb.DECISION_RECORDED,
        data=data,
    )
    return decision


@transaction.atomic
def confirm_decision(*, case_id: int, user, expected_version: int | None) -> Decision:
    """A second agent confirms the pending decision: it becomes final and takes effect. Audited.

    The agent who made the decision can never confirm it (Forbidden); the case must still be waiting for
    confirmation and unchanged since the page was loaded (CaseConflict otherwise).
    """
    now = timezone.now()
    case = lock_visible_case(case_id, user)
    if case.status != Case.Status.PENDING_CONFIRMATION:
        if case.status == Case.Status.RESOLVED:
            check_can_act(case, user, expected_version, now)  # raises: says who decided
        raise CaseConflict("This case is not waiting for a confirmation any more.", case)
    check_can_act(case, user, expected_version, now, must_hold=True)
    refuse_if_protected(case, user)
    pending = _pending_decision(case)
    _refuse_own_review(pending, user)
    _close_review(pending, user, Decision.ReviewState.CONFIRMED, now)
    _take_effect(
        case,
        pending,
        status=Case.Status.RESOLVED,
        now=now,
        actor=Actor.for_user(user),
        verb=Verb.DECISION_CONFIRMED,
        data={"first_decider": pending.decided_by_id, "action": pending.action.code},
    )
    return pending


def may_decide_automatically(case: Case) -> bool:
    """Automation decides only untouched cases, once: never a case an agent holds, one already escalated,
    or one an automated rule already decided."""
    if case.status != Case.Status.OPEN or case.assignee_id is not None:
        return False
    return not Decision.objects.filter(case=case, mode=Decision.Mode.LIVE, automated=True).exists()


def automation_blocker(case: Case) -> str | None:
    """Why automation may not decide the case: "skipped" (held, escalated or already decided automatically,
    `may_decide_automatically`), "protected" (a protected subject, by flag or protected tag: people only),
    "sampled" (drawn for review anyway, `sampled_for_review`), or None when it may."""
    if not may_decide_automatically(case):
        return "skipped"
    if protection_of(case.subject_id):
        return "protected"
    if sampled_for_review(case.pk):
        return "sampled"
    return None


def sampled_for_review(case_id: int, rate: float | None = None) -> bool:
    """Whether the case is in the uniform review sample (`REVIEW_SAMPLE_RATE`) of what automation would
    close: so labels are not only what a model chose to show people. A hash of the id, not a coin toss, so
    every re-routing of the case draws the same answer."""
    rate = settings.REVIEW_SAMPLE_RATE if rate is None else rate
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(f"review-sample:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def decide_automatically(
    *, case: Case, rule, also: tuple[str, ...] = (), checked: bool = False
) -> Decision | None:
    """A live routing rule decides the case (locked by the caller, inside its transaction); None, and nothing
    written, when automation may not decide it (`automation_blocker`: never a protected subject). `checked`:
    the caller just asked `automation_blocker` under the same lock. `also` names fields the caller changed on
    `case`, saved in the same UPDATE.

    Automation judges what the case shows (the content vendor's version) and its author. The case resolves,
    or, when the rule's action does not resolve a case, is escalated (to the rule's queue if it names one).
    The user is told what the admin's template says (never the internal rule name); a template that cannot
    be filled without an agent's words falls back to the policy's explanation. Audited
    (`decision.automated`); takes effect like an agent's decision.
    """
    if not checked and automation_blocker(case) is not None:
        return None
    now = timezone.now()
    decision = Decision(
        case=case,
        policy=rule.auto_policy,
        action=rule.auto_action,
        mode=Decision.Mode.LIVE,
        automated=True,
        rule=rule,
        reason=f"Automatic: rule {rule.name!r}.",
        subject_version=case.subject.content_version,
        author_id=case.subject.author_id,
    )
    template = choose_template(
        policy=rule.auto_policy, action=rule.auto_action, language=case.subject.language
    )
    _save_with_message(decision, template, reason="", fallback=rule.auto_policy.user_facing_text)
    status = Case.Status.RESOLVED if rule.auto_action.resolves_case else Case.Status.ESCALATED
    case.routed_by_rule = rule
    case.routed_at = case.routed_at or now
    fields = [*also, "routed_by_rule", "routed_at"]
    if status == Case.Status.ESCALATED and rule.target_queue_id:
        case.queue = rule.target_queue
        fields.append("queue")
    _take_effect(
        case,
        decision,
        status=status,
        now=now,
        also=tuple(dict.fromkeys(fields)),
        actor=ROUTER,
        verb=Verb.DECISION_AUTOMATED,
        data={"rule": rule.pk, "action": rule.auto_action.code, "policy": rule.auto_policy.code},
    )
    count_automated_decision_on_commit(rule_id=rule.pk, mode=Decision.Mode.LIVE)
    return decision


def record_shadow_decision(*, case: Case, rule) -> bool:
    """A rule in shadow mode notes what it would have decided, once per case and rule (audited the first
    time: `decision.shadow_recorded`). Nothing else changes. True if it was recorded now."""
    _, created = Decision.objects.get_or_create(
        case=case,
        rule=rule,
        mode=Decision.Mode.SHADOW,
        defaults={
            "policy": rule.auto_policy,
            "action": rule.auto_action,
            "automated": True,
            "reason": f"Shadow: rule {rule.name!r} would have decided this automatically.",
            "subject_version": case.subject.content_version,
            "author_id": case.subject.author_id,
        },
    )
    if created:
        record_event(
            actor=ROUTER,
            verb=Verb.DECISION_SHADOW_RECORDED,
            target=case,
            case_id=case.pk,
            data={"rule": rule.pk, "action": rule.auto_action.code, "policy": rule.auto_policy.code},
        )
        count_automated_decision_on_commit(rule_id=rule.pk, mode=Decision.Mode.SHADOW)
    return created


def allowed_action(policy: Policy, action_id: int | None) -> Action | None:
    """The active action `action_id` if it may be taken under `policy` ("no violation" always may)."""
    if not action_id:
        return None
    return (
        Action.objects.filter(pk=action_id, is_active=True)
        .filter(Q(kind=Action.Kind.NO_VIOLATION) | Q(pk__in=policy.allowed_actions.values("pk")))
        .first()
    )


def _save_with_message(decision: Decision, template, *, reason: str, fallback: str | None = None) -> None:
    """Insert the decision with its message to the user; a second write only when the message names the
    decision itself (the appeal link carries its id)."""

    def fill(decision_id):
        message = fill_user_message(
            template,
            subject=decision.case.subject,
            policy=decision.policy,
            action=decision.action,
            reason=reason,
            decision_id=decision_id,
        )
        return fallback if message.unfilled and fallback is not None else message.text

    without_id = fill(None)
    decision.user_message = without_id
    decision.save()
    final = fill(decision.pk)
    if final != without_id:
        decision.user_message = final
        Decision.objects.filter(pk=decision.pk).update(user_message=final)


def _take_effect(
    case: Case,
    decision: Decision,
    *,
    status: str,
    now: datetime,
    actor: Actor,
    verb: Verb,
    data: dict,
    also: tuple[str, ...] = (),
) -> None:
    """The steps every final decision shares: the case moves on, the decision takes effect, the audit event."""
    move_case_on(case, status=status, now=now, also=also)
    decision_takes_effect(decision)  # enforcement (delivered on commit), the author's strike, track records
    record_event(actor=actor, verb=verb, target=decision, case_id=case.pk, data=data)


def _evidence_decided_on(case: Case, subject_version: int | None):
    """The content version a decision is taken on: one the case's reports carried (or the one it shows)."""
    evidence = case_evidence(case)
    if subject_version is None:
        if evidence.conflicts:
            # Conflicting evidence is never settled by default: the agent says which version they judged.
            raise ReviewError(
                "Reports on this case carry conflicting versions of the content: choose the one you decide on.",
                field="subject_version",
            )
        return evidence.shown.version
    chosen = evidence.get(subject_version)
    if chosen is None:
        raise ReviewError("Choose one of the content versions shown on this case.", field="subject_version")
    return chosen.version


def _requires_second_review(case: Case, policy: Policy) -> bool:
    """Four eyes when the chosen policy, the case's policy or any policy it was reported under asks for it:
    choosing another policy never skips the second review."""
    return (
        policy.requires_second_review
        or (case.policy_id is not None and case.policy.requires_second_review)
        or Report.objects.filter(case=case, policy__requires_second_review=True).exists()
    )


def _pending_decision(case: Case) -> Decision:
    pending = (
        case.decisions.filter(review_state=Decision.ReviewState.PENDING)
        .select_related("action", "policy", "decided_by")
        .order_by("-created_at", "-id")
        .first()
    )
    if pending is None:  # a pending case always has one; refuse rather than guess
        raise CaseConflict("No decision is waiting for confirmation on this case.", case)
    return pending


def _refuse_own_review(pending: Decision, user) -> None:
    if pending.decided_by_id == user.pk:
        raise Forbidden("You made this decision; a different agent must confirm or overturn it (four eyes).")


def _close_review(decision: Decision, user, state: str, now) -> None:
    Decision.objects.filter(pk=decision.pk, review_state=Decision.ReviewState.PENDING).update(
        review_state=state, reviewed_by=user, reviewed_at=now
    )
