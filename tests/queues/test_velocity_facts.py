"""Velocity counters as routing facts: `[system] author.reports_24h ≥ 20` routes, and `case_facts(as_of=)` sees
the case as it stood then (signals, reports, strikes and counters of that moment only)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.counters import COUNTER_NAMES
from cases.models import Case, Report, Signal, Strike
from queues.models import SYSTEM_FACTS, ScoreCondition
from queues.selectors import case_facts
from queues.services import route_case
from tests import factories

pytestmark = pytest.mark.django_db

SYSTEM = ScoreCondition.Source.SYSTEM


def velocity_rule(queue, label="author.reports_24h", threshold=3):
    rule = factories.RoutingRuleFactory(name="burst", target_queue=queue)
    factories.ScoreConditionFactory(
        rule=rule, source=SYSTEM, label=label, operator="gte", threshold=threshold
    )
    return rule


def reported(author, times, *, vendor, policy):
    """One case per entry of `times`: a subject by `author` reported once at that moment."""
    cases = []
    for when in times:
        case = factories.CaseFactory(subject=factories.SubjectFactory(author_id=author), policy=policy)
        row = factories.ReportFactory(case=case, vendor=vendor, policy=policy, reporter_id=f"u{len(cases)}")
        Report.objects.filter(pk=row.pk).update(received_at=when)
        cases.append(case)
    return cases


def test_every_counter_is_a_system_fact_an_admin_can_write():
    assert set(COUNTER_NAMES) <= set(SYSTEM_FACTS)
    rule = factories.RoutingRuleFactory()
    ScoreCondition(rule=rule, source=SYSTEM, label="author.reports_24h", threshold=20).full_clean()
    with pytest.raises(ValidationError) as refused:
        ScoreCondition(rule=rule, source="scorer", label="vendor.reports_1m", threshold=20).full_clean()
    assert "system fact" in str(refused.value)


def test_a_velocity_rule_routes_a_bursting_author_and_not_a_quiet_one(queues, policies, vendor):
    velocity_rule(queues["harassment"], threshold=3)
    now = timezone.now()
    burst = reported(
        "burst", [now - timedelta(minutes=n) for n in range(3)], vendor=vendor, policy=policies["spam"]
    )
    quiet = reported("quiet", [now - timedelta(minutes=1), now - timedelta(days=2)], vendor=vendor,
                     policy=policies["spam"])  # fmt: skip

    route_case(case_id=burst[0].pk)
    route_case(case_id=quiet[0].pk)

    assert Case.objects.get(pk=burst[0].pk).queue == queues["harassment"]
    assert Case.objects.get(pk=quiet[0].pk).queue == queues["general"]


def test_case_facts_carry_every_counter_as_a_system_fact(policies, vendor):
    now = timezone.now()
    case = reported("a", [now - timedelta(minutes=5), now - timedelta(hours=3)], vendor=vendor,
                    policy=policies["spam"])[0]  # fmt: skip

    facts = case_facts(case)

    assert {name for source, name in facts.signals if source == SYSTEM} == {
        "author.active_strikes",
        *COUNTER_NAMES,
    }
    assert facts.signals[(SYSTEM, "author.reports_24h")] == {"": 2.0}
    assert facts.signals[(SYSTEM, "author.reports_1h")] == {"": 1.0}
    assert facts.signals[(SYSTEM, "subject.reports_1h")] == {"": 1.0}


def test_as_of_sees_only_what_existed_then(policies, vendor, other_vendor):
    now = timezone.now()
    then = now - timedelta(hours=2)
    case = reported("a", [then - timedelta(minutes=10)], vendor=vendor, policy=policies["spam"])[0]
    late = factories.ReportFactory(
        case=case, vendor=other_vendor, policy=policies["harassment"], reporter_id="z"
    )
    Report.objects.filter(pk=late.pk).update(received_at=then + timedelta(minutes=1))
    early = factories.SignalFactory(case=case, label="toxicity", score=0.3)
    later = factories.SignalFactory(case=case, label="toxicity", score=0.95, source_name="later")
    Signal.objects.filter(pk=early.pk).update(created_at=then - timedelta(minutes=5))
    Signal.objects.filter(pk=later.pk).update(created_at=then + timedelta(minutes=5))
    case.reporter_count = 2

    past = case_facts(case, as_of=then)
    present = case_facts(case)

    assert past.signals[("scorer", "toxicity")] == {"test": 0.3}
    assert past.max_score == 0.3 and present.max_score == 0.95
    assert past.policy_ids == {policies["spam"].pk} and past.vendor_ids == {vendor.pk}
    assert present.vendor_ids == {vendor.pk, other_vendor.pk}
    assert past.distinct_reporters == 1 and present.distinct_reporters == 2
    assert past.signals[(SYSTEM, "author.reports_1h")] == {"": 1.0}
    assert present.signals[(SYSTEM, "author.reports_1h")] == {"": 0.0}
    assert present.signals[(SYSTEM, "author.reports_24h")] == {"": 2.0}


def test_active_strikes_are_point_in_time_under_as_of(policies, vendor, review_setup):
    now = timezone.now()
    case = reported("striker", [now - timedelta(days=9)], vendor=vendor, policy=policies["spam"])[0]

    def strike(created, *, expires=None, removed=None):
        decision = factories.DecisionFactory(case=case, action=review_setup.actions["remove"])
        row = Strike.objects.create(
            author_id="striker", subject=case.subject, decision=decision, policy=policies["spam"]
        )
        Strike.objects.filter(pk=row.pk).update(created_at=created, expires_at=expires, removed_at=removed)

    strike(now - timedelta(days=10))  # in force throughout
    strike(now - timedelta(days=10), expires=now - timedelta(days=6))  # expired between then and now
    strike(now - timedelta(days=10), removed=now - timedelta(days=1))  # overturned after then
    strike(now - timedelta(days=2))  # issued after then

    def strikes(**kwargs):
        return case_facts(case, **kwargs).signals[(SYSTEM, "author.active_strikes")][""]

    assert strikes(as_of=now - timedelta(days=8)) == 3.0
    assert strikes() == 2.0
    assert strikes(as_of=now - timedelta(days=11)) == 0.0


@pytest.mark.parametrize("as_of", [None, "then"])
def test_case_facts_cost_the_same_queries_whatever_the_history(policies, vendor, as_of):
    now = timezone.now()
    moment = None if as_of is None else now - timedelta(minutes=1)
    small = reported("s", [now - timedelta(minutes=3)], vendor=vendor, policy=policies["spam"])[0]
    big = reported("b", [now - timedelta(minutes=n % 50 + 2) for n in range(40)], vendor=vendor,
                   policy=policies["spam"])[0]  # fmt: skip
    for n in range(30):
        factories.ReportFactory(case=big, vendor=vendor, policy=policies["spam"], reporter_id=f"x{n}")
        factories.SignalFactory(case=big, label=f"l{n}", score=0.1)
    counts = []
    for case in (small, big):
        case = Case.objects.select_related("subject", "policy").get(pk=case.pk)
        with CaptureQueriesContext(connection) as queries:
            case_facts(case, as_of=moment)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 12
