"""Admins give a routing rule an event trigger on a form: event types as checkboxes, a policy the case opens
with, audited; a trigger that could never open a case is refused on the form."""

from cases.models import EventTrigger
from moderation.models import AuditEvent
from queues.models import RoutingRule, RuleChangeRequest
from queues.services.rule_changes import change_rule_state
from tests import factories

ADD = "/admin/cases/eventtrigger/add/"


def test_an_admin_gives_a_rule_an_event_trigger_with_ticked_types(admin_client, policies):
    rule = factories.RoutingRuleFactory()

    response = admin_client.post(
        ADD,
        {
            "rule": rule.pk,
            "event_types": ["media.uploaded", "message.posted"],
            "open_policy": policies["spam"].pk,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    trigger = EventTrigger.objects.get(rule=rule)
    assert trigger.event_types == ["media.uploaded", "message.posted"]
    assert AuditEvent.objects.filter(target_type="cases.eventtrigger", target_id=str(trigger.pk)).exists()


def test_a_trigger_without_a_policy_to_open_with_is_refused_on_the_form(admin_client):
    rule = factories.RoutingRuleFactory()

    response = admin_client.post(ADD, {"rule": rule.pk, "event_types": ["message.posted"]})

    assert response.status_code == 200
    assert "Choose the policy of the case an event opens" in response.content.decode()
    assert not EventTrigger.objects.exists()


def test_an_unknown_event_type_is_refused(admin_client, policies):
    rule = factories.RoutingRuleFactory()

    response = admin_client.post(
        ADD, {"rule": rule.pk, "event_types": ["order.placed"], "open_policy": policies["spam"].pk}
    )

    assert response.status_code == 200
    assert not EventTrigger.objects.exists()


# A trigger is not in the rule's version: giving one to a rule that decides automatically would make it
# decide on every platform event without the second admin its own changes need.


def _automated_rule(review_setup, **fields):
    rule = factories.RoutingRuleFactory(
        target_queue=review_setup.queue,
        automation_mode="live",
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
        **fields,
    )
    factories.ScoreConditionFactory(rule=rule, label="toxicity", threshold=0.9)
    return rule


def test_a_rule_that_decides_automatically_cannot_be_given_a_trigger_on_the_form(admin_client, review_setup):
    rule = _automated_rule(review_setup)

    response = admin_client.post(ADD, {"rule": rule.pk, "event_types": ["message.posted"]})

    assert response.status_code == 200
    assert "This rule decides automatically" in response.content.decode()
    assert not EventTrigger.objects.exists()


def test_widening_the_trigger_of_a_rule_that_decides_automatically_is_refused(admin_client, review_setup):
    rule = _automated_rule(review_setup)
    trigger = EventTrigger.objects.create(rule=rule, event_types=["media.uploaded"])

    response = admin_client.post(
        f"/admin/cases/eventtrigger/{trigger.pk}/change/", {"rule": rule.pk, "event_types": []}
    )

    assert response.status_code == 200
    assert "This rule decides automatically" in response.content.decode()
    trigger.refresh_from_db()
    assert trigger.event_types == ["media.uploaded"]


def test_a_trigger_is_refused_while_a_change_to_its_rule_waits_for_a_second_admin(admin_client, review_setup):
    rule = _automated_rule(review_setup, state=RoutingRule.State.SHADOW)
    RuleChangeRequest.objects.create(
        rule=rule,
        base_version=0,
        proposed={},
        current_per_day=0,
        proposed_per_day=1,
        backtest_days=7,
        requested_by=factories.UserFactory(),
    )

    response = admin_client.post(ADD, {"rule": rule.pk, "event_types": ["message.posted"]})

    assert response.status_code == 200
    assert "waits for a second admin" in response.content.decode()
    assert not EventTrigger.objects.exists()


def test_a_rule_with_a_trigger_going_live_waits_for_a_second_admin_whatever_the_backtest(review_setup):
    rule = _automated_rule(review_setup, state=RoutingRule.State.SHADOW)
    EventTrigger.objects.create(rule=rule, open_policy=review_setup.policies["spam"])
    ann = factories.UserFactory(is_superuser=True, is_staff=True)

    change = change_rule_state(rule_id=rule.pk, state=RoutingRule.State.LIVE, user=ann)

    # No past case matches (the backtest says 0 a day), but events are not in the backtest.
    assert change.version is None
    assert change.request is not None and change.request.state == "pending"
    assert "platform events" in change.request.note  # the approver is told what the figures leave out
    rule.refresh_from_db()
    assert rule.state == RoutingRule.State.SHADOW
