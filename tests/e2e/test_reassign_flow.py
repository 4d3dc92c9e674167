"""Take over and reassign in a real browser: a lead sees who holds a case and since when, gives it to another
agent of the queue, and the previous holder's open page tells them at its next heartbeat."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from cases.models import Case
from moderation.models import AuditEvent
from tests import factories
from tests.e2e.conftest import PASSWORD, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def person(username, queue):
    user = factories.UserFactory(username=username)
    user.set_password(PASSWORD)
    user.save()
    queue.members.add(user)
    return user


@pytest.fixture
def desk(live_server, settings):
    settings.CASE_HEARTBEAT_SECONDS = 2
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    alice, bob, lena = person("alice", queue), person("bob", queue), person("lena", queue)
    lena.user_permissions.add(
        Permission.objects.get(content_type__app_label="cases", codename="reassign_case")
    )
    case = factories.OpenCaseFactory(queue=queue)
    factories.hold(case, alice)
    return {"case": case, "bob": bob}


def test_a_lead_reassigns_a_held_case_and_the_previous_holder_is_told(new_page, live_server, desk):
    url = f"{live_server.url}/cases/{desk['case'].pk}/"
    holder = new_page()
    log_in(holder, live_server, "alice")
    holder.goto(url)
    expect(holder.locator("#case-main")).to_contain_text("Yours until")

    lead = new_page()
    log_in(lead, live_server, "lena")
    lead.goto(url)
    expect(lead.locator("#holder")).to_contain_text("alice is reviewing this case · held since")
    lead.locator("#reassign summary").click()
    lead.get_by_label("Reassign to").select_option(label="bob")
    lead.get_by_role("button", name="Reassign", exact=True).click()
    expect(lead.locator("#holder")).to_contain_text("bob is reviewing this case · held since")

    expect(holder.locator("#lease-lost")).to_contain_text("a lead gave it to bob")
    assert Case.objects.get(pk=desk["case"].pk).assignee == desk["bob"]
    assert AuditEvent.objects.filter(verb="case.reassigned", case_id=desk["case"].pk).exists()
    assert holder.errors == [] and lead.errors == []
