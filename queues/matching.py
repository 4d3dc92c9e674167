"""Matching a case's facts against routing rules (pure: no database access)."""

from queues.models import RoutingRule, ScoreCondition
from queues.selectors import CaseFacts


def rule_matches(rule: RoutingRule, facts: CaseFacts) -> bool:
    """All non-empty conditions hold. Uses prefetched relations only."""
    policy_ids = {policy.pk for policy in rule.policies.all()}
    if policy_ids and not (policy_ids & facts.policy_ids):
        return False
    if rule.subject_kinds and facts.subject_kind not in rule.subject_kinds:
        return False
    vendor_ids = {vendor.pk for vendor in rule.vendors.all()}
    if vendor_ids and not (vendor_ids & facts.vendor_ids):
        return False
    if rule.languages and facts.language.split("-")[0] not in {
        lang.lower().split("-")[0] for lang in rule.languages
    }:
        return False
    return all(condition_holds(condition, facts) for condition in rule.score_conditions.all())


def condition_holds(condition: ScoreCondition, facts: CaseFacts) -> bool:
    """The strongest value of the condition's label from the source it trusts meets the threshold.

    Only signals of the condition's source count (a vendor's `profanity` is not the scorer's), and of the
    named source when it names one.
    """
    by_name = facts.signals.get((condition.source, condition.label), {})
    if condition.source_name:
        value = by_name.get(condition.source_name)
    else:
        value = max(by_name.values(), default=None)
    if value is None:
        return False  # no signal yet: the condition cannot be met (re-routed when it arrives)
    if condition.operator == ScoreCondition.Operator.GTE:
        return value >= condition.threshold
    if condition.operator == ScoreCondition.Operator.LTE:
        return value <= condition.threshold
    return abs(value - condition.threshold) < 1e-9
