"""Enforcement: what the platform is told to apply (or undo) for a live decision, as an outbox row.

Creating an enforcement happens in the decision's transaction; `cases.services.outbox` enqueues it on
commit, claims, delivers, retries and sweeps it like every other webhook. The body is built here once, at
creation (`docs/webhooks.md`).
"""

from django.utils import timezone

from cases.models import Decision, Enforcement
from cases.services import outbox
from moderation.models import Action

# Actions that change nothing on the platform are recorded, not delivered.
NOT_ENFORCED = (Action.Kind.NO_VIOLATION, Action.Kind.ESCALATE)


def enforcement_payload(decision: Decision, *, kind: str, key: str) -> dict:
    case = decision.case
    subject = case.subject
    action = decision.action
    policy = decision.policy
    return {
        "type": f"enforcement.{kind}",
        "id": key,
        "decision": {
            "id": decision.pk,
            "action": action.code,
            "enforcement_type": action.enforcement_type or action.kind,
            "duration_hours": action.duration_hours,
            "expires_at": decision.effect_expires_at.isoformat() if decision.effect_expires_at else None,
            "policy": policy.code,
            "dsa_category": policy.dsa_category,
            "automated": decision.automated,
            "decided_at": decision.created_at.isoformat(),
        },
        # The content version decided on and its author: never whatever a later report says.
        "subject": {
            "kind": subject.kind,
            "external_id": subject.external_id,
            "author_id": decision.author_id if decision.subject_version is not None else subject.author_id,
            "content_version": decision.subject_version,
        },
        "case_id": case.pk,
        # What the user is told: the filled-in message template, else the decision's reason, else the
        # policy's explanation.
        "reason": decision.user_message or decision.reason or policy.user_facing_text,
        "created_at": timezone.now().isoformat(),
    }


def create_enforcement(
    *, decision: Decision, kind: str = Enforcement.Kind.APPLY, fresh: bool = False
) -> Enforcement | None:
    """Within the decision's transaction: the enforcement to deliver (once per decision and kind), or None
    for actions the platform need not apply. Delivery is enqueued when the transaction commits, or, for an
    apply inside the decision's undo window, once the window closes (`outbox.release_held`).

    `fresh`: the decision is taking effect for the first time in this transaction, so no enforcement can
    exist yet: one INSERT instead of get_or_create's SELECT, SAVEPOINT, INSERT and RELEASE (the unique
    constraint `one_enforcement_per_decision_kind` still refuses a second one)."""
    if decision.mode != Decision.Mode.LIVE or decision.action.kind in NOT_ENFORCED:
        return None
    key = f"enf_{decision.pk}_{kind}"
    held = outbox.held_until(decision) if kind == Enforcement.Kind.APPLY else None
    fields = {
        "case_id": decision.case_id,
        "idempotency_key": key,
        "payload": enforcement_payload(decision, kind=kind, key=key),
        # Due now and held by the task enqueued on commit; an apply waits out the undo window first.
        **outbox.hold_fields(held, timezone.now()),
    }
    if fresh:
        enforcement, created = Enforcement.objects.create(decision=decision, kind=kind, **fields), True
    else:
        enforcement, created = Enforcement.objects.get_or_create(
            decision=decision, kind=kind, defaults=fields
        )
    if created:
        if kind == Enforcement.Kind.REVERSE:
            # An apply that has not reached the platform must never arrive after its reversal.
            Enforcement.objects.filter(
                decision=decision,
                kind=Enforcement.Kind.APPLY,
                state__in=[Enforcement.State.PENDING, Enforcement.State.FAILED],
            ).update(state=Enforcement.State.FAILED, last_error=outbox.SUPERSEDED, next_attempt_at=None)
        if held is None:
            outbox.enqueue_on_commit(outbox.ENFORCEMENT, [enforcement.pk])
    return enforcement
