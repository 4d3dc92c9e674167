"""The review sample: a uniform share (`REVIEW_SAMPLE_RATE`) of the cases a live rule would decide goes to
people instead, so labels are not only what automation chose to show them."""

import pytest

from cases.models import Case, Decision
from cases.services.review.decisions import sampled_for_review
from queues.models import RuleMatch
from queues.services.routing import route_case
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_rule(review_setup):
    rule = factories.RoutingRuleFactory(
        automation_mode="live",
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
        target_queue=review_setup.queue,
    )
    factories.ScoreConditionFactory(rule=rule, label="trained.spam", threshold=0.9)
    return rule


@pytest.fixture
def case(review_setup):
    case = factories.CaseFactory(policy=review_setup.policies["spam"])
    factories.ReportFactory(case=case)
    factories.SignalFactory(case=case, label="trained.spam", score=0.97)
    return case


def test_a_sampled_case_goes_to_people_and_the_match_says_why(case, live_rule, settings):
    settings.REVIEW_SAMPLE_RATE = 1.0

    route_case(case_id=case.pk)

    routed = Case.objects.get(pk=case.pk)
    assert routed.status == Case.Status.OPEN and routed.queue_id == live_rule.target_queue_id
    assert not Decision.objects.filter(case=case).exists()
    assert RuleMatch.objects.get(case=case, rule=live_rule).outcome == RuleMatch.Outcome.SAMPLED


def test_without_a_sample_automation_decides(case, live_rule, settings):
    settings.REVIEW_SAMPLE_RATE = 0.0

    route_case(case_id=case.pk)

    assert Decision.objects.get(case=case).automated
    assert Case.objects.get(pk=case.pk).status == Case.Status.RESOLVED


def test_the_sample_is_uniform_and_the_same_on_every_draw():
    drawn = [case_id for case_id in range(1, 20_001) if sampled_for_review(case_id, 0.02)]

    assert 0.017 < len(drawn) / 20_000 < 0.023
    assert drawn == [case_id for case_id in range(1, 20_001) if sampled_for_review(case_id, 0.02)]
    assert not any(sampled_for_review(case_id, 0.0) for case_id in range(1, 1000))
