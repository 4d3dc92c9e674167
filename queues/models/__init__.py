"""Queues, routing rules and clearances. One module per concept; import from `queues.models`."""

from queues.models.health_history import (
    AgentDay,
    DecisionTiming,
    QueueIntakeHour,
    QueueSnapshot,
    TimingBucket,
)
from queues.models.queue import CaseSkip, EscalationRoute, Queue, QueueClearance
from queues.models.rule_history import (
    RoutingRuleVersion,
    RuleAutomationDay,
    RuleChangeRequest,
    RuleMatch,
    behaviour_of,
    snapshot_of,
)
from queues.models.rules import SYSTEM_FACTS, RoutingRule, ScoreCondition, automation_condition_errors
from queues.models.saved_view import QueueStar, SavedView

__all__ = [
    "SYSTEM_FACTS",
    "AgentDay",
    "CaseSkip",
    "DecisionTiming",
    "EscalationRoute",
    "Queue",
    "QueueClearance",
    "QueueIntakeHour",
    "QueueSnapshot",
    "QueueStar",
    "RoutingRule",
    "RoutingRuleVersion",
    "RuleAutomationDay",
    "RuleChangeRequest",
    "RuleMatch",
    "SavedView",
    "ScoreCondition",
    "TimingBucket",
    "automation_condition_errors",
    "behaviour_of",
    "snapshot_of",
]
