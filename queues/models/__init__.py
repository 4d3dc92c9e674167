"""Queues, routing rules and clearances. One module per concept; import from `queues.models`."""

from queues.models.queue import CaseSkip, Queue, QueueClearance
from queues.models.rules import SYSTEM_FACTS, RoutingRule, ScoreCondition, automation_condition_errors

__all__ = [
    "SYSTEM_FACTS",
    "CaseSkip",
    "Queue",
    "QueueClearance",
    "RoutingRule",
    "ScoreCondition",
    "automation_condition_errors",
]
