"""Routing: placing a case in a queue with a priority and SLA, or deciding it automatically."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cases.models import Case
from cases.selectors import lock_case_for_routing
from cases.services.review.decisions import decide_automatically, record_shadow_decision
from moderation.audit import Actor, Verb, record_event
from queues import selectors
from queues.matching import rule_matches
from queues.models import RoutingRule
from queues.priority import priority_score

logger = logging.getLogger(__name__)
ROUTER = Actor.system("router")


@dataclass
class RoutingOutcome:
    case_id: int
    queue_id: int | None
    rule_id: int | None
    priority: float
    auto_decided: bool = False
    shadow_rule_ids: tuple[int, ...] = ()


@transaction.atomic
def route_case(*, case_id: int) -> RoutingOutcome | None:
    """Route the case on what is known now (see `route_locked_case`)."""
    case = lock_case_for_routing(case_id)
    if case is None:
        return None
    return route_locked_case(case)


def route_locked_case(case: Case, *, also_save: tuple[str, ...] = ()) -> RoutingOutcome | None:
    """Evaluate the routing rules on what is known about the case and apply the first live match.

    Call inside a transaction with the case locked (`lock_case_for_routing`); `also_save` names fields the
    caller changed on `case`, saved in the same UPDATE.

    - Rules run in `position` order. A rule whose automatic decision is in shadow mode records a shadow
      decision (once per case and rule) and evaluation goes on: shadow rules never change what happens.
    - A live automatic decision resolves the case (audited); otherwise the first matching rule's queue,
      priority boost and SLA apply; with no match, the default queue.
    - A case an agent holds (assigned, in review, escalated) keeps its queue; only priority and SLA move.
    - Safe to run again at any time (re-routing when new signals arrive); returns None for a resolved or
      missing case, or when no rule matches and no default queue exists (the case stays unrouted, logged).
    """
    if case.status == Case.Status.RESOLVED:
        if also_save:
            case.save(update_fields=[*also_save, "updated_at"])
        return None
    facts = selectors.case_facts(case)
    matched: RoutingRule | None = None
    shadow_ids: list[int] = []
    for rule in selectors.active_rules():
        if rule.automation_mode != RoutingRule.AutomationMode.OFF and not rule.automation_is_attributable:
            # Refused on save; a rule changed some other way (shell, a condition deleted) never decides on
            # vendor claims alone. Logged when the rules are loaded.
            continue
        if not rule_matches(rule, facts):
            continue
        if rule.automation_mode == RoutingRule.AutomationMode.SHADOW:
            record_shadow_decision(case=case, rule=rule)
            shadow_ids.append(rule.pk)
            continue
        if rule.automation_mode == RoutingRule.AutomationMode.LIVE:
            # The decision service says whether automation may decide (never a held, escalated or already
            # automatically decided case); if not, the rule is passed over and evaluation goes on.
            if decide_automatically(case=case, rule=rule, also=also_save) is None:
                continue
            return RoutingOutcome(case.pk, case.queue_id, rule.pk, case.priority, True, tuple(shadow_ids))
        matched = rule
        break

    queue = (
        matched.target_queue if matched is not None and matched.target_queue_id else selectors.default_queue()
    )
    if case.is_restricted and (queue is None or not queue.is_restricted):
        # Whatever a rule or the default says, restricted content never lands in an open queue.
        queue = selectors.restricted_triage_queue()
    if queue is None:
        logger.error("case %s matched no routing rule and there is no default queue", case.pk)
        if also_save:
            case.save(update_fields=[*also_save, "updated_at"])
        return None
    priority = priority_score(
        severity=facts.severity,
        max_score=facts.max_score,
        distinct_reporters=facts.distinct_reporters,
        reporter_accuracy=facts.reporter_accuracy,
        vendor_reliability=facts.vendor_reliability,
        boost=matched.priority_boost if matched is not None else 0.0,
    )
    sla_hours = (
        (matched.sla_hours_override if matched is not None else None)
        or queue.sla_hours
        or (case.policy.sla_hours if case.policy_id else 24)
    )
    held = case.assignee_id is not None or case.status != Case.Status.OPEN
    previous = (case.queue_id, case.routed_by_rule_id, case.priority)
    if not held:
        case.queue = queue
        case.routed_by_rule = matched
    case.priority = priority
    case.max_score = facts.max_score
    case.sla_due_at = case.opened_at + timedelta(hours=sla_hours)
    first_routing = case.routed_at is None
    case.routed_at = case.routed_at or timezone.now()
    if not held:
        # A held case keeps its queue; a new score moving its priority is no reason to make the agent's
        # decision a conflict, so only a move bumps the optimistic-lock version.
        case.version += 1
    case.save(
        update_fields=[
            "queue",
            "routed_by_rule",
            "priority",
            "max_score",
            "sla_due_at",
            "routed_at",
            "version",
            "updated_at",
            *also_save,
        ]
    )
    if first_routing or previous != (case.queue_id, case.routed_by_rule_id, case.priority):
        record_event(
            actor=ROUTER,
            verb=Verb.CASE_ROUTED if first_routing else Verb.CASE_REROUTED,
            target=case,
            case_id=case.pk,
            data={
                "queue": queue.slug,
                "rule": matched.pk if matched else None,
                "priority": priority,
                "signals": sum(len(by_name) for by_name in facts.signals.values()),
                "held_by_agent": held,
            },
        )
    return RoutingOutcome(
        case.pk, case.queue_id, matched.pk if matched else None, priority, False, tuple(shadow_ids)
    )
