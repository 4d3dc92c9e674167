"""Admins give a routing rule an event trigger on a form: event types as checkboxes, a policy the case opens
with, audited; a trigger that could never open a case is refused on the form."""

from cases.models import EventTrigger
from moderation.models import AuditEvent
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
