"""A lead's bulk decision: one policy and action for many cases, each decided through `record_decision`."""

from dataclasses import dataclass

from cases.services.review.common import ReviewError, clean_text
from cases.services.review.decisions import allowed_action, record_decision
from moderation.audit import Actor, Verb, record_event
from moderation.errors import DomainError, Forbidden, NotFound
from moderation.models import Action, Policy

BULK_LIMIT = 1000


@dataclass
class BulkOutcome:
    decided: list[int]
    skipped: dict[int, str]


def batch_choice(policy_id: int | None, action_id: int | None) -> tuple[Policy, Action]:
    """The active policy and an action allowed under it (not escalation), for a batch; ReviewError naming the
    field otherwise."""
    policy = Policy.objects.filter(pk=policy_id, is_active=True).first() if policy_id else None
    if policy is None:
        raise ReviewError("Choose a policy.", field="policy")
    action = allowed_action(policy, action_id)
    if action is None or action.kind == Action.Kind.ESCALATE:
        raise ReviewError(f"Choose one of the actions allowed under {policy.name}.", field="action")
    return policy, action


def bulk_decide(
    *, user, case_ids: list[int], policy_id: int | None, action_id: int | None, reason: str = ""
) -> BulkOutcome:
    """A lead applies one policy and action to many cases (up to BULK_LIMIT). Each case is decided through
    `record_decision` in its own transaction, so each is validated, audited and enforced on its own; a case
    that cannot be decided (gone, held by someone, already decided, protected...) is skipped with the reason.
    The batch itself is audited (`bulk.decided`). Forbidden for anyone but a lead; ReviewError when the
    policy or action cannot be used at all (nothing is decided then)."""
    if not (user.is_superuser or user.has_perm("cases.bulk_decide")):
        raise Forbidden("Only leads can decide cases in bulk.")
    ids = list(dict.fromkeys(case_ids))[:BULK_LIMIT]
    if not ids:
        raise ReviewError("Select at least one case.", field="cases")
    # What is the same for every case is checked once, before anything is written; after that nothing may
    # refuse the batch (earlier cases are already committed), so every per-case refusal is a skip.
    policy, action = batch_choice(policy_id, action_id)
    reason = clean_text(reason, field="reason")
    outcome = BulkOutcome(decided=[], skipped={})
    try:
        for case_id in ids:
            try:
                record_decision(
                    case_id=case_id,
                    user=user,
                    policy_id=policy.pk,
                    action_id=action.pk,
                    reason=reason,
                    notes="Bulk decision.",
                    expected_version=None,
                    must_hold=False,  # a lead's deliberate batch: the permission is the safeguard
                    batch=True,  # ... which never decides a protected subject
                )
            except NotFound:
                outcome.skipped[case_id] = "No such case."
            except DomainError as exc:
                outcome.skipped[case_id] = exc.message
            else:
                outcome.decided.append(case_id)
    finally:
        # Written whatever happened: the decisions already committed must be traceable to this batch.
        record_event(
            actor=Actor.for_user(user),
            verb=Verb.BULK_DECIDED,
            target=user,
            data={
                "policy": policy.pk,
                "action": action.pk,
                "decided": outcome.decided,
                "skipped": {str(key): value for key, value in outcome.skipped.items()},
            },
        )
    return outcome
