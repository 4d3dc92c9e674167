"""Undo in a real browser, against a real loopback platform: the enforcement is not delivered while the
toast's Undo is offered, is delivered once the window closes, and an undone decision is never delivered."""

import time

import pytest
from playwright.sync_api import expect

from cases.models import Case, Enforcement
from cases.services import outbox
from moderation.models import EnforcementEndpoint
from tests import factories
from tests.e2e.conftest import PASSWORD, log_in
from tests.webhooks import LoopbackServers

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec-" + "5a1d" * 12
WINDOW = 4


@pytest.fixture
def desk(live_server, settings):
    settings.DECISION_UNDO_SECONDS = WINDOW
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    servers = LoopbackServers()
    platform = servers.build(secret=SECRET, path="/platform/enforcements")
    EnforcementEndpoint.objects.create(name="Platform", url=platform.url, secret=SECRET, is_active=True)
    remove = factories.ActionFactory(code="remove", name="Remove content", shortcut_key="1")
    policy = factories.PolicyFactory(code="harassment", name="Harassment")
    policy.allowed_actions.set([remove])
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    alice = factories.UserFactory(username="alice")
    alice.set_password(PASSWORD)
    alice.save()
    queue.members.add(alice)
    case = factories.OpenCaseFactory(policy=policy, queue=queue)
    factories.ReportFactory(case=case)
    factories.hold(case, alice)
    yield {"platform": platform, "case": case, "remove": remove}
    servers.stop()


def decide_on_page(page, live_server, desk):
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/cases/{desk['case'].pk}/")
    page.locator(f'#action-choices input[value="{desk["remove"].pk}"]').check()
    page.locator('[data-shortcut="submit"]').click()
    return page.locator("#toasts .toast-undo")


def release() -> int:
    return sum(outbox.release_held(kind=kind) for kind in outbox.KINDS)


def released_within(seconds: float) -> int:
    """Release sweeps until one releases something (the button's timer and the server's clock differ a little)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if released := release():
            return released
        time.sleep(0.25)
    return 0


def test_enforcement_waits_for_the_undo_window_then_is_delivered(new_page, live_server, desk):
    page = new_page()
    undo = decide_on_page(page, live_server, desk)
    expect(undo).to_be_visible()
    assert Case.objects.get(pk=desk["case"].pk).status == Case.Status.RESOLVED
    assert release() == 0 and desk["platform"].received == []
    expect(undo).to_have_count(0, timeout=(WINDOW + 5) * 1000)  # the button leaves when the window closes
    assert released_within(10) == 1  # what the beat does every few seconds, once the window has closed
    assert [m.json()["type"] for m in desk["platform"].received] == ["enforcement.apply"]
    assert page.errors == []


def test_an_undone_decision_is_never_delivered_and_the_case_is_the_agents_again(new_page, live_server, desk):
    page = new_page()
    undo = decide_on_page(page, live_server, desk)
    undo.click()
    expect(page.locator("#case-main")).to_contain_text("Yours until")
    expect(page).to_have_url(f"{live_server.url}/cases/{desk['case'].pk}/")
    assert Enforcement.objects.get(case=desk["case"]).state == Enforcement.State.CANCELLED
    time.sleep(WINDOW + 0.5)
    assert release() == 0
    assert desk["platform"].received == []
    assert page.errors == []
