"""Judging an event against the rules: passing over a rule whose conditions read a signal the event lacks
(the fast path most events take) never changes which rules match."""

from hypothesis import given, settings
from hypothesis import strategies as st

from cases.services.event_rules import EventRule, _matches
from queues.matching import condition_holds
from queues.models import RoutingRule, ScoreCondition
from queues.selectors import CaseFacts

SOURCES = [ScoreCondition.Source.BANK, ScoreCondition.Source.SYSTEM, ScoreCondition.Source.SCORER]
LABELS = ["bank:terms", "event.author_events_1h", "profanity"]
OPERATORS = [choice for choice, _ in ScoreCondition.Operator.choices]


class Posted:
    type = "message.posted"


conditions = st.builds(
    lambda source, label, operator, threshold, name: ScoreCondition(
        source=source, label=label, operator=operator, threshold=threshold, source_name=name
    ),
    st.sampled_from(SOURCES),
    st.sampled_from(LABELS),
    st.sampled_from(OPERATORS),
    st.sampled_from([0.0, 0.5, 1.0, 3.0]),
    st.sampled_from(["", "", "vendor-a"]),
)
signals = st.dictionaries(
    st.tuples(st.sampled_from(SOURCES), st.sampled_from(LABELS)),
    st.dictionaries(st.sampled_from(["", "vendor-a"]), st.sampled_from([0.0, 0.5, 1.0, 3.0]), max_size=2),
    max_size=5,
)


def facts_with(found: dict) -> CaseFacts:
    return CaseFacts(
        policy_ids=set(),
        vendor_ids={1},
        subject_kind="message",
        language="en",
        severity=0,
        distinct_reporters=0,
        vendor_reliability=0.0,
        signals=found,
    )


def rule_of(conditions_: list[ScoreCondition]) -> EventRule:
    return EventRule(
        rule=RoutingRule(name="r"),
        event_types=frozenset(),
        policy=None,
        kinds=frozenset(),
        vendor_ids=frozenset(),
        languages=frozenset(),
        conditions=tuple(conditions_),
        acts_unattributably=False,
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(conditions, max_size=4), signals)
def test_a_rule_matches_exactly_when_every_condition_holds(conditions_, found):
    facts = facts_with(found)

    assert _matches(rule_of(conditions_), Posted(), facts) == all(
        condition_holds(condition, facts) for condition in conditions_
    )


def test_a_rule_reads_every_signal_its_conditions_name():
    rule = rule_of(
        [
            ScoreCondition(source=ScoreCondition.Source.BANK, label="bank:terms", threshold=1),
            ScoreCondition(source=ScoreCondition.Source.SYSTEM, label="event.author_events_1h", threshold=5),
        ]
    )

    assert rule.needs == {
        (ScoreCondition.Source.BANK, "bank:terms"),
        (ScoreCondition.Source.SYSTEM, "event.author_events_1h"),
    }
    # An upper bound on a signal the event does not carry is not met (no value, no judgement), as routing says.
    at_most = rule_of(
        [ScoreCondition(source="system", label="event.author_events_1h", operator="lte", threshold=5)]
    )
    assert not _matches(at_most, Posted(), facts_with({}))
    assert _matches(at_most, Posted(), facts_with({("system", "event.author_events_1h"): {"": 2.0}}))
