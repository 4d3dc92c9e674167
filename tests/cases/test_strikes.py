"""Strikes: each enforcing decision marks the author, with the policy's expiry; the case page shows the active
ones; routing can send repeat offenders up the queue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Strike
from cases.services import review
from cases.track_record import active_strike_count
from moderation.models import Action
from queues.models import ScoreCondition
from queues.services import route_case
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(review_setup):
    return factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies["harassment"],
        subject__author_id="repeat-offender",
    )


def decide(case, user, review_setup, *, action="remove", policy="harassment"):
    """`user` decides `case`, holding it first as the agent working it does."""
    factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=review_setup.policies[policy].pk,
        action_id=review_setup.actions[action].pk,
        expected_version=case.version,
    )


def test_an_enforcing_decision_gives_the_author_one_strike_expiring_with_the_policy(case, review_setup):
    policy = review_setup.policies["harassment"]
    policy.strike_days = 30
    policy.save()

    decision = decide(case, review_setup.agent, review_setup)

    strike = Strike.objects.get()
    assert (strike.author_id, strike.decision, strike.policy) == ("repeat-offender", decision, policy)
    assert abs(strike.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert active_strike_count("repeat-offender") == 1


def test_no_violation_gives_no_strike(case, review_setup):
    decide(case, review_setup.agent, review_setup, action="no-violation")

    assert not Strike.objects.exists()


def test_a_policy_with_zero_strike_days_gives_no_strike(case, review_setup):
    review_setup.policies["harassment"].strike_days = 0
    review_setup.policies["harassment"].save()

    decide(case, review_setup.agent, review_setup)

    assert not Strike.objects.exists()


def test_a_policy_without_strike_days_gives_strikes_that_never_expire(case, review_setup):
    review_setup.policies["harassment"].strike_days = None
    review_setup.policies["harassment"].save()

    decide(case, review_setup.agent, review_setup)

    assert Strike.objects.get().expires_at is None


def test_an_author_without_an_id_gets_no_strike(review_setup):
    anonymous = factories.OpenCaseFactory(queue=review_setup.queue, subject__author_id="")
    factories.hold(anonymous, review_setup.agent)

    review.record_decision(
        case_id=anonymous.pk,
        user=review_setup.agent,
        policy_id=review_setup.policies["spam"].pk,
        action_id=review_setup.actions["remove"].pk,
        expected_version=anonymous.version,
    )

    assert not Strike.objects.exists()


def test_expired_and_removed_strikes_are_not_active(case, review_setup):
    decide(case, review_setup.agent, review_setup)
    strike = Strike.objects.get()

    Strike.objects.filter(pk=strike.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = active_strike_count("repeat-offender")
    Strike.objects.filter(pk=strike.pk).update(expires_at=None, removed_at=timezone.now())
    removed = active_strike_count("repeat-offender")

    assert (expired, removed) == (0, 0)


def test_the_case_page_shows_the_authors_active_strikes(agent_client, case, review_setup):
    earlier = factories.OpenCaseFactory(
        queue=review_setup.queue, policy=review_setup.policies["spam"], subject__author_id="repeat-offender"
    )
    decide(earlier, review_setup.agent, review_setup, policy="spam")

    html = agent_client.get(f"/cases/{case.pk}/").content.decode()

    assert "1 active strike" in html
    assert "Spam" in html.split('id="strikes"')[1].split("</div>")[0]


def test_strikes_from_a_restricted_queue_are_not_shown_to_an_agent_outside_it(
    agent_client, case, review_setup
):
    restricted = factories.QueueFactory(slug="child-safety", is_restricted=True)
    hidden = factories.OpenCaseFactory(
        queue=restricted, policy=review_setup.policies["child-safety"], subject__author_id="repeat-offender"
    )
    admin = factories.UserFactory(username="root", is_superuser=True)
    factories.hold(hidden, admin)
    review.record_decision(
        case_id=hidden.pk,
        user=admin,
        policy_id=review_setup.policies["child-safety"].pk,
        action_id=review_setup.actions["remove"].pk,
        expected_version=hidden.version,
    )

    html = agent_client.get(f"/cases/{case.pk}/").content.decode()

    assert active_strike_count("repeat-offender") == 1
    assert "No active strikes." in html


def test_an_automated_live_decision_gives_a_strike_too(review_setup):
    remove = review_setup.actions["remove"]
    assert remove.kind == Action.Kind.REMOVE
    rule = factories.RoutingRuleFactory(
        name="auto remove",
        automation_mode="live",
        auto_policy=review_setup.policies["spam"],
        auto_action=remove,
    )
    rule.policies.set([review_setup.policies["spam"]])
    factories.ScoreConditionFactory(rule=rule, label="spam", threshold=0.9)
    case = factories.CaseFactory(policy=review_setup.policies["spam"], subject__author_id="bot-42")
    factories.ReportFactory(case=case, policy=review_setup.policies["spam"])
    factories.SignalFactory(case=case, label="spam", score=0.97)

    route_case(case_id=case.pk)

    assert Strike.objects.get().author_id == "bot-42"


def test_routing_can_raise_repeat_offenders_by_their_active_strikes(review_setup):
    repeat_queue = factories.QueueFactory(slug="repeat-offenders")
    rule = factories.RoutingRuleFactory(
        name="repeat offenders", target_queue=repeat_queue, priority_boost=100
    )
    factories.ScoreConditionFactory(
        rule=rule,
        source=ScoreCondition.Source.SYSTEM,
        label="author.active_strikes",
        operator=ScoreCondition.Operator.GTE,
        threshold=2,
    )
    for n in range(2):
        earlier = factories.OpenCaseFactory(queue=review_setup.queue, subject__author_id="serial")
        decide(earlier, review_setup.agent, review_setup)
    newcomer = factories.CaseFactory(subject__author_id="first-timer", policy=review_setup.policies["spam"])
    offender = factories.CaseFactory(subject__author_id="serial", policy=review_setup.policies["spam"])

    route_case(case_id=newcomer.pk)
    route_case(case_id=offender.pk)

    newcomer.refresh_from_db()
    offender.refresh_from_db()
    assert offender.queue == repeat_queue
    assert newcomer.queue == review_setup.queue
    assert offender.priority > newcomer.priority
