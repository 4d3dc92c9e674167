"""A change that raises a live rule's automatic decisions by more than the allowed percentage needs a second
admin: it waits as a RuleChangeRequest, the requester cannot approve it, and every step is audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, Signal
from moderation.errors import Conflict, Forbidden
from moderation.models import AuditEvent
from queues.models import RoutingRule, RuleChangeRequest, ScoreCondition, snapshot_of
from queues.services.rule_changes import (
    approve_rule_change,
    change_rule_state,
    record_rule_change,
    reject_rule_change,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins(db):
    return (
        factories.UserFactory(username="ann", is_superuser=True, is_staff=True),
        factories.UserFactory(username="ben", is_superuser=True, is_staff=True),
    )


@pytest.fixture
def live_rule(review_setup, admins):
    rule = factories.RoutingRuleFactory(
        name="auto-remove toxic",
        automation_mode="live",
        auto_policy=review_setup.policies["harassment"],
        auto_action=review_setup.actions["remove"],
    )
    factories.ScoreConditionFactory(rule=rule, label="toxicity", threshold=0.9)
    return rule


@pytest.fixture
def last_week(review_setup):
    """Two cases a day-ish over the last week at 0.95 (the rule matches them) and five at 0.85 (it does not)."""
    now = timezone.now()
    for n, score in enumerate([0.95, 0.95, 0.85, 0.85, 0.85, 0.85, 0.85]):
        case = factories.CaseFactory(policy=review_setup.policies["harassment"])
        opened = now - timedelta(days=n % 6 + 1)
        Case.objects.filter(pk=case.pk).update(opened_at=opened, routed_at=opened + timedelta(minutes=1))
        signal = factories.SignalFactory(case=case, label="toxicity", score=score)
        Signal.objects.filter(pk=signal.pk).update(created_at=opened)


def lower_threshold(rule, user, threshold):
    before = snapshot_of(rule)
    ScoreCondition.objects.filter(rule=rule).update(threshold=threshold)
    return record_rule_change(rule=rule, before=before, user=user)


def test_a_big_increase_waits_for_a_second_admin_and_leaves_the_rule_alone(live_rule, last_week, admins):
    ann, _ = admins

    change = lower_threshold(live_rule, ann, 0.8)

    assert change.version is None
    request = change.request
    assert (request.state, request.requested_by, request.base_version) == ("pending", ann, 0)
    assert request.current_per_day == pytest.approx(2 / 7)
    assert request.proposed_per_day == pytest.approx(7 / 7)
    assert request.proposed["conditions"][0]["threshold"] == 0.8
    assert ScoreCondition.objects.get(rule=live_rule).threshold == 0.9  # put back as it was
    assert not live_rule.versions.exists()
    event = AuditEvent.objects.get(verb="rule.change_requested")
    assert event.data["old"]["conditions"][0]["threshold"] == 0.9
    assert event.data["new"]["conditions"][0]["threshold"] == 0.8


def test_the_requester_cannot_approve_their_own_change(live_rule, last_week, admins):
    ann, _ = admins
    request = lower_threshold(live_rule, ann, 0.8).request

    with pytest.raises(Forbidden):
        approve_rule_change(request_id=request.pk, user=ann)

    assert RuleChangeRequest.objects.get(pk=request.pk).state == "pending"
    assert ScoreCondition.objects.get(rule=live_rule).threshold == 0.9


def test_a_second_admin_approves_and_the_change_takes_effect_versioned(live_rule, last_week, admins):
    ann, ben = admins
    request = lower_threshold(live_rule, ann, 0.8).request

    rule = approve_rule_change(request_id=request.pk, user=ben, note="checked the backtest")

    assert ScoreCondition.objects.get(rule=live_rule).threshold == 0.8
    version = rule.versions.get()
    assert (version.number, version.changed_by, rule.version) == (1, ben, 1)
    assert "approved change request" in version.note
    request.refresh_from_db()
    assert (request.state, request.decided_by) == ("approved", ben)
    assert AuditEvent.objects.get(verb="rule.change_approved").actor_label == "ben"
    with pytest.raises(Conflict):
        approve_rule_change(request_id=request.pk, user=ben)  # decided once


def test_rejecting_is_audited_and_changes_nothing(live_rule, last_week, admins):
    ann, ben = admins
    request = lower_threshold(live_rule, ann, 0.8).request

    reject_rule_change(request_id=request.pk, user=ben, note="too broad")

    assert RuleChangeRequest.objects.get(pk=request.pk).state == "rejected"
    assert ScoreCondition.objects.get(rule=live_rule).threshold == 0.9
    assert AuditEvent.objects.get(verb="rule.change_rejected").data["note"] == "too broad"


def test_an_approval_on_a_rule_that_changed_since_is_a_conflict(live_rule, last_week, admins):
    ann, ben = admins
    request = lower_threshold(live_rule, ann, 0.8).request
    change_rule_state(rule_id=live_rule.pk, state="paused", user=ben)  # pausing never waits

    with pytest.raises(Conflict):
        approve_rule_change(request_id=request.pk, user=ben)
    assert RoutingRule.objects.get(pk=live_rule.pk).state == "paused"


def test_a_small_change_takes_effect_at_once(live_rule, last_week, admins):
    ann, _ = admins
    change = lower_threshold(live_rule, ann, 0.92)  # still the same two cases
    assert change.request is None and change.version.number == 1
    assert ScoreCondition.objects.get(rule=live_rule).threshold == 0.92


def test_going_live_with_automatic_decisions_needs_approval(live_rule, last_week, admins):
    ann, ben = admins
    RoutingRule.objects.filter(pk=live_rule.pk).update(state="shadow")

    change = change_rule_state(rule_id=live_rule.pk, state="live", user=ann)

    assert change.request is not None and change.request.current_per_day == 0
    assert RoutingRule.objects.get(pk=live_rule.pk).state == "shadow"
    approve_rule_change(request_id=change.request.pk, user=ben)
    assert RoutingRule.objects.get(pk=live_rule.pk).state == "live"


def test_the_admin_holds_the_change_and_lists_it_for_another_admin(live_rule, last_week, admins, client):
    ann, ben = admins
    condition = live_rule.score_conditions.get()
    client.force_login(ann)
    data = {
        "name": live_rule.name,
        "position": live_rule.position,
        "state": "live",
        "languages": "",
        "priority_boost": 0,
        "automation_mode": "live",
        "auto_policy": live_rule.auto_policy_id,
        "auto_action": live_rule.auto_action_id,
        "score_conditions-TOTAL_FORMS": 1,
        "score_conditions-INITIAL_FORMS": 1,
        "score_conditions-0-id": condition.pk,
        "score_conditions-0-rule": live_rule.pk,
        "score_conditions-0-source": "scorer",
        "score_conditions-0-source_name": "",
        "score_conditions-0-label": "toxicity",
        "score_conditions-0-operator": "gte",
        "score_conditions-0-threshold": "0.8",
    }
    response = client.post(f"/admin/queues/routingrule/{live_rule.pk}/change/", data, follow=True)

    assert "waits for another admin" in response.content.decode()
    assert ScoreCondition.objects.get(rule=live_rule).threshold == 0.9
    request = RuleChangeRequest.objects.get(state="pending")
    # The requester's own approval is refused; another admin's goes through.
    actions = {"action": "approve", "_selected_action": [request.pk], "index": 0}
    refused = client.post("/admin/queues/rulechangerequest/", actions, follow=True)
    assert "different admin" in refused.content.decode()
    assert RuleChangeRequest.objects.get(pk=request.pk).state == "pending"
    client.force_login(ben)
    client.post("/admin/queues/rulechangerequest/", actions)
    assert RuleChangeRequest.objects.get(pk=request.pk).state == "approved"
    assert ScoreCondition.objects.get(rule=live_rule).threshold == 0.8
