"""A lead's decision on a whole campaign: one policy and action for its open members, each case decided on
its own through `record_decision` (validated, audited, enforced, version-checked), as in a bulk decision."""

from dataclasses import dataclass, field

from cases.campaign_selectors import DECISION_LIMIT, campaign_for, decision_plan
from cases.services.review.bulk import batch_choice
from cases.services.review.common import ProtectedSubject, clean_text
from cases.services.review.decisions import record_decision
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, DomainError, Forbidden, NotFound

__all__ = ["DECISION_LIMIT", "CampaignOutcome", "decide_campaign"]


@dataclass
class CampaignOutcome:
    decided: list[int] = field(default_factory=list)
    skipped_protected: list[int] = field(default_factory=list)
    skipped_held: list[int] = field(default_factory=list)
    skipped_hidden: int = 0
    # Cases that changed between the plan and their decision (decided, claimed, moved): case id -> why.
    skipped_changed: dict[int, str] = field(default_factory=dict)
    # Open members beyond this request's limit: decided by deciding the campaign again.
    remaining: int = 0


def decide_campaign(
    *,
    user,
    campaign_id: int,
    policy_id: int | None,
    action_id: int | None,
    reason: str = "",
    expected_count: int | None,
) -> CampaignOutcome:
    """A lead decides every open member case of a campaign they may see and act on, up to DECISION_LIMIT
    (oldest first), each in its own transaction and audit event (`decision.recorded`); the batch is audited
    too (`campaign.decided`). Skipped, never decided: protected subjects (`Subject.is_protected` or a
    protected tag: automation and bulk decisions never act on them), cases another agent holds or that await
    a second review, and members the lead may not see (only counted). `expected_count` is the number the
    lead confirmed: if the campaign changed meanwhile, Conflict and nothing is decided.

    Raises Forbidden (not a lead), NotFound (no such campaign for this user), ReviewError (policy or action
    unusable) or Conflict, all before anything is written."""
    if not (user.is_superuser or user.has_perm("cases.bulk_decide")):
        raise Forbidden("Only leads can decide a campaign.")
    campaign = campaign_for(campaign_id, user)
    if campaign is None:
        raise NotFound("No such campaign.", field="campaign")
    policy, action = batch_choice(policy_id, action_id)
    reason = clean_text(reason, field="reason")
    plan = decision_plan(campaign=campaign, user=user)
    if not plan.decide:
        raise Conflict("No open case of this campaign can be decided by you now.")
    if expected_count is None:
        raise Conflict("Confirm how many cases will be decided.")
    if expected_count != len(plan.decide):
        raise Conflict(
            f"The campaign changed: {len(plan.decide)} case{'s' if len(plan.decide) != 1 else ''} would be "
            f"decided now, not {expected_count}. Check and confirm again."
        )
    outcome = CampaignOutcome(
        skipped_protected=plan.protected,
        skipped_held=plan.held,
        skipped_hidden=plan.hidden,
        remaining=plan.beyond_limit,
    )
    try:
        for case_id, version in plan.decide:
            try:
                record_decision(
                    case_id=case_id,
                    user=user,
                    policy_id=policy.pk,
                    action_id=action.pk,
                    reason=reason,
                    notes=f"Campaign {campaign.pk} decision.",
                    expected_version=version,
                    must_hold=False,  # a lead's deliberate batch: the permission is the safeguard
                    batch=True,  # ... which never decides a protected subject
                )
            except ProtectedSubject:
                outcome.skipped_protected.append(case_id)  # marked or tagged since the plan was read
            except DomainError as exc:
                outcome.skipped_changed[case_id] = exc.message
            else:
                outcome.decided.append(case_id)
    finally:
        # Written whatever happened: the decisions already committed must be traceable to this batch.
        record_event(
            actor=Actor.for_user(user),
            verb=Verb.CAMPAIGN_DECIDED,
            target=campaign,
            data={
                "policy": policy.pk,
                "action": action.pk,
                "decided": outcome.decided,
                "skipped_protected": outcome.skipped_protected,
                "skipped_held": outcome.skipped_held,
                "skipped_hidden": outcome.skipped_hidden,
                "skipped_changed": {str(key): value for key, value in outcome.skipped_changed.items()},
                "remaining": outcome.remaining,
            },
        )
    return outcome
