"""The leads' Queue health and Team pages in a real browser: charts drawn, nothing blocked by the CSP,
nothing fetched from outside the machine."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import Decision
from queues.services.health_snapshots import record_queue_health
from tests import factories
from tests.e2e.conftest import PASSWORD, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead(live_server):
    queue = factories.QueueFactory(slug="general", name="General", is_default=True)
    agent = factories.UserFactory(username="alice")
    for n in range(3):
        case = factories.OpenCaseFactory(queue=queue)
        factories.ReportFactory(case=case)
        if n == 0:
            Decision.objects.filter(pk=factories.DecisionFactory(case=case, decided_by=agent).pk).update(
                created_at=timezone.now()
            )
    record_queue_health()
    user = factories.UserFactory(username="lena")
    user.set_password(PASSWORD)
    user.save()
    for codename, app in (("view_case", "cases"), ("view_all_queues", "queues")):
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app))
    return user


def test_queue_health_and_team_pages_draw_charts_under_the_csp_without_outside_requests(
    new_page, live_server, lead
):
    page = new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page, live_server, "lena")
    page.get_by_role("link", name="Queue health").click()
    expect(page.get_by_role("heading", name="Queue health")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    page.get_by_role("link", name="Team", exact=True).first.click()
    expect(page.get_by_role("heading", name="Team")).to_be_visible()
    expect(page.locator("#decisions svg.chart")).to_be_visible()
    page.goto(f"{live_server.url}/oversight/?period=custom&from=2026-02-01&to=2026-01-01")
    expect(page.get_by_role("alert")).to_contain_text("to must be on or after from")
    screenshot(page, "oversight-queues")
    assert page.errors == []
    assert new_page.blocked == []
    outside = [u for u in requests if not u.startswith((live_server.url, "data:", "blob:", "about:"))]
    assert outside == []
