"""A small detection world for event tests: a keyword bank `scam-terms`, and event rules on it."""

from cases.models import EventTrigger
from queues.models import RoutingRule, ScoreCondition
from tests import factories
from tests.banks import bank_of

SCAM_TERMS = ["free crypto", "wire the fee", "guaranteed returns"]


def scam_bank():
    return bank_of("scam-terms", "keyword", SCAM_TERMS)


def event_rule(*, policy, event_types=(), state=RoutingRule.State.LIVE, conditions=(), **fields):
    """A routing rule with an event trigger; `conditions` are (source, label, operator, threshold)."""
    rule = factories.RoutingRuleFactory(state=state, **fields)
    for source, label, operator, threshold in conditions or [
        (ScoreCondition.Source.BANK, "bank:scam-terms", ScoreCondition.Operator.GTE, 1.0)
    ]:
        factories.ScoreConditionFactory(
            rule=rule, source=source, label=label, operator=operator, threshold=threshold
        )
    EventTrigger.objects.create(rule=rule, event_types=list(event_types), open_policy=policy)
    return rule


def event_body(event_id="evt-1", *, text="hello there", author="user-7", kind="message", **overrides):
    body = {
        "id": event_id,
        "type": "message.posted",
        "occurred_at": "2026-12-01T10:00:00Z",
        "subject": {"kind": kind, "external_id": f"msg-{event_id}", "author_id": author, "text": text},
    }
    body.update(overrides)
    return body
