"""Routing: placing a case in a queue with a priority and SLA, or deciding it automatically."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from cases.models import Case
from cases.selectors import lock_case_for_routing
from cases.services.review.decisions import (
    automation_blocker,
    decide_automatically,
    record_shadow_decision,
)
from moderation.audit import Actor, Verb, record_event
from moderation.metrics import observe_first_routing_on_commit
from queues import selectors
from queues.matching import rule_matches
from queues.models import RoutingRule, RuleMatch
from queues.priority import priority_score
from queues.services.rule_guards import take_automation_slot

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


class _MatchLog:
    """The rules that matched the case this routing, written in one INSERT at the end (once per rule, case
    and rule version: re-routing under the same version adds nothing)."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.now = timezone.now()
        self.rows: list[RuleMatch] = []

    def add(self, rule: RoutingRule, outcome: str, *, mode: str = RuleMatch.Mode.LIVE, **where) -> None:
        self.rows.append(
            RuleMatch(
                rule=rule,
                case=self.case,
                rule_version=rule.version,
                mode=mode,
                outcome=outcome,
                matched_at=self.now,
                **where,
            )
        )

    def watch(self, rule: RoutingRule) -> None:
        """A shadow-state rule matched: log what it would have routed or decided."""
        decides = rule.automation_mode != RoutingRule.AutomationMode.OFF
        self.add(
            rule,
            RuleMatch.Outcome.WOULD_DECIDE if decides else RuleMatch.Outcome.WOULD_ROUTE,
            mode=RuleMatch.Mode.SHADOW,
            queue_id=rule.target_queue_id or getattr(selectors.default_queue(), "pk", None),
            action_id=rule.auto_action_id if decides else None,
        )

    def watch_the_rest(self, rules: list[RoutingRule], facts) -> None:
        """Shadow-state rules are evaluated on every routing, also those after the rule that applied."""
        for rule in rules:
            if rule.state == RoutingRule.State.SHADOW and rule_matches(rule, facts):
                self.watch(rule)

    def save(self) -> None:
        if self.rows:
            RuleMatch.objects.bulk_create(self.rows, ignore_conflicts=True)
            self.rows = []


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

    - Rules run in `position` order; draft and paused rules are not evaluated. A rule in the shadow state
      only logs what it would have done. A live rule whose automatic decision is in shadow mode records a
      shadow decision (once per case and rule) and evaluation goes on: neither changes what happens.
    - A live automatic decision resolves the case (audited) unless the subject is protected or the rule's
      daily cap is used up: then the case goes to people through the rule's queue (or the default one).
      Otherwise the first matching rule's queue, priority boost and SLA apply; with no match, the default.
    - Every match is logged (`RuleMatch`, one INSERT per routing) with what came of it.
    - A case an agent holds (assigned, in review, escalated) keeps its queue; only priority and SLA move.
    - Safe to run again at any time (re-routing when new signals arrive); returns None for a resolved or
      missing case, or when no rule matches and no default queue exists (the case stays unrouted, logged).
    """
    if case.status == Case.Status.RESOLVED:
        if also_save:
            case.save(update_fields=[*also_save, "updated_at"])
        return None
    rules = selectors.active_rules()
    # Velocity counters cost a Redis round trip (or database aggregates without Redis): read them only when
    # a rule being evaluated looks at one.
    facts = selectors.case_facts(case, with_velocity=selectors.rules_use_velocity(rules))
    matched: RoutingRule | None = None
    matched_outcome = RuleMatch.Outcome.ROUTED
    shadow_ids: list[int] = []
    log = _MatchLog(case)
    for index, rule in enumerate(rules):
        if rule.automation_mode != RoutingRule.AutomationMode.OFF and not rule.automation_is_attributable:
            # Refused on save; a rule changed some other way (shell, a condition deleted) never decides on
            # vendor claims alone. Logged when the rules are loaded.
            continue
        if not rule_matches(rule, facts):
            continue
        if rule.state == RoutingRule.State.SHADOW:
            log.watch(rule)  # only watched: what it would have done is logged, nothing else happens
            continue
        if rule.automation_mode == RoutingRule.AutomationMode.SHADOW:
            record_shadow_decision(case=case, rule=rule)
            shadow_ids.append(rule.pk)
            log.add(rule, RuleMatch.Outcome.WOULD_DECIDE, action_id=rule.auto_action_id)
            continue
        if rule.automation_mode == RoutingRule.AutomationMode.LIVE:
            # The decision service says whether automation may decide (never a held, escalated or already
            # automatically decided case: the rule is passed over; never a protected subject: people decide).
            blocker = automation_blocker(case)
            if blocker == "skipped":
                log.add(rule, RuleMatch.Outcome.SKIPPED)
                continue
            if blocker is None and not take_automation_slot(rule):
                blocker = "capped"  # today's automatic decisions are used up: people decide the rest
            if blocker is None:
                if case.routed_at is None:
                    observe_first_routing_on_commit(opened_at=case.opened_at)
                decide_automatically(case=case, rule=rule, also=also_save, checked=True)
                log.add(
                    rule, RuleMatch.Outcome.DECIDED, queue_id=case.queue_id, action_id=rule.auto_action_id
                )
                log.watch_the_rest(rules[index + 1 :], facts)
                log.save()
                return RoutingOutcome(case.pk, case.queue_id, rule.pk, case.priority, True, tuple(shadow_ids))
            matched_outcome = RuleMatch.Outcome(blocker)
        matched = rule
        log.watch_the_rest(rules[index + 1 :], facts)
        break

    queue = (
        matched.target_queue if matched is not None and matched.target_queue_id else selectors.default_queue()
    )
    if case.is_restricted and (queue is None or not queue.is_restricted):
        # Whatever a rule or the default says, restricted content never lands in an open queue.
        queue = selectors.restricted_triage_queue()
    if matched is not None:
        log.add(matched, matched_outcome, queue_id=queue.pk if queue is not None else None)
    log.save()
    if queue is None:
        logger.error("case %s matched no routing rule and there is no default queue", case.pk)
        if also_save:
            case.save(update_fields=[*also_save, "updated_at"])
        return None
    # The rules whose verdict on this case stands: the one applied (an automatic decision capped or sent to
    # people still says what it would have done) and those that recorded a shadow decision.
    verdict_ids = {*shadow_ids, *([matched.pk] if matched is not None else [])}
    priority = priority_score(
        severity=facts.severity,
        max_score=facts.max_score,
        distinct_reporters=facts.distinct_reporters,
        reporter_accuracy=facts.reporter_accuracy,
        vendor_reliability=facts.vendor_reliability,
        boost=(matched.priority_boost if matched is not None else 0.0)
        + selectors.model_lead_boost(facts, [rule for rule in rules if rule.pk in verdict_ids]),
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
    if first_routing:
        observe_first_routing_on_commit(opened_at=case.opened_at)
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
