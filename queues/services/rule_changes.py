"""Changing a routing rule: states, versions, and the changes that wait for a second admin.

Every change to a rule — made in the admin, by a command or by the system — ends here: the transition is
checked (draft → shadow/live, shadow ↔ live, anything → paused, paused → shadow/live; never back to draft), a
`RoutingRuleVersion` is written with the rule as it now is, and the change is audited with the old and new
snapshots (`rule.versioned`, plus `rule.state_changed` when the state moved).

A change that makes a rule decide automatically in live — a live rule's conditions or outcome changed, or a
rule moved to live with a live automatic decision — is backtested first (RULE_APPROVAL_BACKTEST_DAYS): when its
estimated automatic decisions a day rise by more than RULE_APPROVAL_MAX_INCREASE_PCT over the current
version's, the rule is put back as it was and the change waits as a `RuleChangeRequest` until a different
admin approves it.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cases.models import EventTrigger
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, Forbidden, Invalid, NotFound
from queues.backtest import backtest_rule
from queues.models import (
    RoutingRule,
    RoutingRuleVersion,
    RuleChangeRequest,
    ScoreCondition,
    behaviour_of,
    snapshot_of,
)
from queues.models.rule_history import CONDITION_FIELDS, SNAPSHOT_FIELDS, SNAPSHOT_FOREIGN_KEYS

State = RoutingRule.State
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    State.DRAFT: {State.SHADOW, State.LIVE, State.PAUSED},
    State.SHADOW: {State.LIVE, State.PAUSED},
    State.LIVE: {State.SHADOW, State.PAUSED},
    State.PAUSED: {State.SHADOW, State.LIVE},
}
RULE_GUARD = Actor.system("rule-guard")
EVENTS_NOTE = "Also decides on platform events (it has an event trigger); the backtest counts cases only."


@dataclass
class RuleChange:
    rule: RoutingRule
    version: RoutingRuleVersion | None = None  # written now (None: nothing changed, or held)
    request: RuleChangeRequest | None = None  # held for a second admin


def transition_error(old: str, new: str) -> str | None:
    """Why the rule may not go from `old` to `new`; None when it may (or nothing moves)."""
    if old == new or new in ALLOWED_TRANSITIONS.get(old, set()):
        return None
    allowed = ", ".join(sorted(ALLOWED_TRANSITIONS.get(old, set()))) or "nothing"
    return f"A {old} rule can move to {allowed}, not to {new}."


@transaction.atomic
def record_rule_change(*, rule: RoutingRule, before: dict | None, user, note: str = "") -> RuleChange:
    """The rule (and its conditions) were just written by the caller, in its transaction: version it.

    `before` is the rule's snapshot before the write (None for a new rule). Writes a version and audits it,
    or — when the change needs a second admin — puts the rule back as it was (a new rule stays a draft),
    stores a pending `RuleChangeRequest` and audits that. Raises Invalid (field `state`) for a transition
    that is not allowed. A newer held change supersedes (rejects, audited) an older pending one.
    """
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    after = snapshot_of(rule)
    if before is not None and after == before:
        return RuleChange(rule)
    old_state = before["state"] if before is not None else State.DRAFT
    if problem := transition_error(old_state, after["state"]):
        raise Invalid(problem, field="state")
    acts_on_events = _has_event_trigger(rule)
    estimate = _approval_estimate(before, after, acts_on_events=acts_on_events)
    if estimate is not None:
        if acts_on_events:  # what the approver must know: the figures below leave the events out
            note = f"{EVENTS_NOTE} {note}".strip()
        return RuleChange(rule, request=_hold_for_approval(rule, before, after, estimate, user, note))
    version = _write_version(rule, before, after, actor=Actor.for_user(user), user=user, note=note)
    return RuleChange(rule, version=version)


@transaction.atomic
def change_rule_state(*, rule_id: int, state: str, user, note: str = "") -> RuleChange:
    """Move the rule to `state` (audited, versioned; going live with automation may wait for approval)."""
    rule = RoutingRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("No such routing rule.", field="rule")
    if state not in State.values:
        raise Invalid(f"Choose one of {', '.join(State.values)}.", field="state")
    before = snapshot_of(rule)
    if problem := transition_error(rule.state, state):
        raise Invalid(problem, field="state")
    rule.state = state
    rule.save(update_fields=["state", "updated_at"])
    return record_rule_change(rule=rule, before=before, user=user, note=note)


@transaction.atomic
def pause_rule_automatically(*, rule_id: int, note: str) -> RoutingRule | None:
    """The system pauses a live rule (a surge): versioned and audited (`rule.auto_paused`) for the leads'
    dashboard. None if the rule is gone or no longer live."""
    rule = RoutingRule.objects.select_for_update().filter(pk=rule_id, state=State.LIVE).first()
    if rule is None:
        return None
    before = snapshot_of(rule)
    rule.state = State.PAUSED
    rule.auto_paused_at = timezone.now()
    rule.auto_pause_note = note[:300]
    rule.save(update_fields=["state", "auto_paused_at", "auto_pause_note", "updated_at"])
    _write_version(rule, before, snapshot_of(rule), actor=RULE_GUARD, system="rule-guard", note=note)
    record_event(
        actor=RULE_GUARD,
        verb=Verb.RULE_AUTO_PAUSED,
        target=rule,
        data={"rule": rule.pk, "name": rule.name, "note": note, "version": rule.version},
    )
    return rule


@transaction.atomic
def approve_rule_change(*, request_id: int, user, note: str = "") -> RoutingRule:
    """A second admin approves a held change: the rule becomes the proposed one (versioned, audited).

    Forbidden for the admin who asked (four eyes) or anyone who may not change rules; Conflict when the
    request was already decided or the rule changed since it was asked for (ask again on the new version).
    """
    request = _pending_request(request_id)
    if request.requested_by_id == user.pk:
        raise Forbidden("You asked for this change: a different admin must approve it.", field="request")
    if not (user.is_superuser or user.has_perm("queues.change_routingrule")):
        raise Forbidden("Only admins who may change routing rules approve changes.", field="request")
    rule = RoutingRule.objects.select_for_update().get(pk=request.rule_id)
    if rule.version != request.base_version:
        raise Conflict(
            f"The rule changed since this was asked for (v{request.base_version} → v{rule.version}): reject "
            "it and propose the change again.",
            field="request",
        )
    before = snapshot_of(rule)
    proposed = request.proposed
    if problem := transition_error(rule.state, proposed["state"]):
        raise Conflict(problem, field="request")
    apply_snapshot(rule, proposed)
    reason = f"approved change request {request.pk} by {request.requested_by}" + (f": {note}" if note else "")
    _write_version(rule, before, snapshot_of(rule), actor=Actor.for_user(user), user=user, note=reason)
    _close_request(request, user, RuleChangeRequest.State.APPROVED, note, Verb.RULE_CHANGE_APPROVED)
    return rule


@transaction.atomic
def reject_rule_change(*, request_id: int, user, note: str = "") -> RuleChangeRequest:
    """Reject (or, by the requester, withdraw) a held change. Audited; the rule stays as it is."""
    request = _pending_request(request_id)
    if not (user.is_superuser or user.has_perm("queues.change_routingrule")):
        raise Forbidden("Only admins who may change routing rules decide on changes.", field="request")
    _close_request(request, user, RuleChangeRequest.State.REJECTED, note, Verb.RULE_CHANGE_REJECTED)
    return request


def apply_snapshot(rule: RoutingRule, snapshot: dict) -> None:
    """Make the rule what the snapshot says: fields, policies, vendors and conditions (bulk)."""
    for name in SNAPSHOT_FIELDS:
        setattr(rule, name, snapshot[name])
    for name in SNAPSHOT_FOREIGN_KEYS:
        setattr(rule, f"{name}_id", snapshot[name])
    rule.save()
    rule.policies.set(snapshot["policies"])
    rule.vendors.set(snapshot["vendors"])
    ScoreCondition.objects.filter(rule=rule).delete()
    ScoreCondition.objects.bulk_create(
        ScoreCondition(rule=rule, **{name: row[name] for name in CONDITION_FIELDS})
        for row in snapshot["conditions"]
    )


def automated_per_day(snapshot: dict | None) -> float:
    """Estimated live automatic decisions a day (backtest); 0 for a rule that does not decide in live."""
    if snapshot is None or not _decides_live(snapshot):
        return 0.0
    return backtest_rule(snapshot, days=settings.RULE_APPROVAL_BACKTEST_DAYS).automated_per_day


def _decides_live(snapshot: dict) -> bool:
    return snapshot["state"] == State.LIVE and snapshot["automation_mode"] == RoutingRule.AutomationMode.LIVE


def _has_event_trigger(rule: RoutingRule) -> bool:
    return EventTrigger.objects.filter(rule_id=rule.pk).exists()


def _approval_estimate(
    before: dict | None, after: dict, *, acts_on_events: bool = False
) -> tuple[float, float] | None:
    """(current, proposed) automatic decisions a day when the change needs a second admin, else None."""
    if not _decides_live(after):
        return None  # pausing, shadowing or routing-only changes never raise automatic decisions
    if before is not None and _decides_live(before) and behaviour_of(before) == behaviour_of(after):
        return None  # renamed, moved or described: what it decides is the same
    current, proposed = automated_per_day(before), automated_per_day(after)
    if acts_on_events:
        # The backtest replays past cases; a rule with an event trigger also decides on platform events,
        # which no backtest here can count, so a second admin always looks.
        return current, proposed
    limit = current * (1 + settings.RULE_APPROVAL_MAX_INCREASE_PCT / 100)
    if proposed > limit:
        return current, proposed
    return None


def _hold_for_approval(rule, before, after, estimate, user, note) -> RuleChangeRequest:
    for older in RuleChangeRequest.objects.select_for_update().filter(
        rule=rule, state=RuleChangeRequest.State.PENDING
    ):
        # One open question per rule: the newer proposal replaces the older one, on the record.
        _close_request(older, user, RuleChangeRequest.State.REJECTED, "superseded", Verb.RULE_CHANGE_REJECTED)
    if before is None:
        # A new rule is kept as a draft (versioned as such); only going live waits.
        apply_snapshot(rule, after | {"state": State.DRAFT})
        _write_version(
            rule, None, snapshot_of(rule), actor=Actor.for_user(user), user=user, note="created as a draft"
        )
    else:
        apply_snapshot(rule, before)
    current, proposed = estimate
    request = RuleChangeRequest.objects.create(
        rule=rule,
        base_version=rule.version,
        proposed=after,
        current_per_day=current,
        proposed_per_day=proposed,
        backtest_days=settings.RULE_APPROVAL_BACKTEST_DAYS,
        requested_by=user,
        note=note[:300],
    )
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.RULE_CHANGE_REQUESTED,
        target=request,
        data={
            "rule": rule.pk,
            "base_version": rule.version,
            "old": before,
            "new": after,
            "automated_per_day": {"current": current, "proposed": proposed},
        },
    )
    return request


def _write_version(
    rule: RoutingRule,
    before: dict | None,
    after: dict,
    *,
    actor: Actor,
    user=None,
    system: str = "",
    note: str = "",
) -> RoutingRuleVersion:
    number = rule.version + 1
    version = RoutingRuleVersion.objects.create(
        rule=rule,
        number=number,
        snapshot=after,
        state=after["state"],
        changed_by=user,
        changed_by_system=system,
        note=note[:300],
    )
    updates: dict = {"version": number}
    if after["state"] != State.PAUSED and rule.auto_paused_at is not None:
        updates |= {"auto_paused_at": None, "auto_pause_note": ""}  # someone turned it back on: alert done
    RoutingRule.objects.filter(pk=rule.pk).update(**updates)
    for name, value in updates.items():
        setattr(rule, name, value)
    record_event(
        actor=actor,
        verb=Verb.RULE_VERSIONED,
        target=rule,
        data={"rule": rule.pk, "version": number, "old": before, "new": after, "note": note},
    )
    old_state = before["state"] if before is not None else None
    if old_state != after["state"]:
        record_event(
            actor=actor,
            verb=Verb.RULE_STATE_CHANGED,
            target=rule,
            data={"rule": rule.pk, "version": number, "from": old_state, "to": after["state"]},
        )
    return version


def _pending_request(request_id: int) -> RuleChangeRequest:
    request = (
        RuleChangeRequest.objects.select_for_update()
        .select_related("requested_by")
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise NotFound("No such change request.", field="request")
    if request.state != RuleChangeRequest.State.PENDING:
        raise Conflict(f"This change was already {request.state}.", field="request")
    return request


def _close_request(request, user, state, note, verb) -> None:
    request.state = state
    request.decided_by = user
    request.decided_at = timezone.now()
    if note:
        request.note = note[:300]
    request.save(update_fields=["state", "decided_by", "decided_at", "note"])
    record_event(
        actor=Actor.for_user(user),
        verb=verb,
        target=request,
        data={"rule": request.rule_id, "requested_by": request.requested_by_id, "note": note},
    )
