"""A lead opens the Outcomes and Reporters & vendors dashboards in a real browser: the charts are drawn as
SVG, the delivery alert shows, nothing violates the CSP and nothing is fetched from outside the machine."""

import pytest
from playwright.sync_api import expect

from tests.cases.oversight_world import build
from tests.e2e.conftest import PASSWORD, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead(live_server, review_setup):
    world = build(review_setup)
    world.lead.set_password(PASSWORD)
    world.lead.save()
    return world.lead


def test_a_lead_reads_the_outcome_and_source_dashboards(new_page, live_server, lead):
    page = new_page()
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server, lead.username)
    expect(page.locator("#delivery-alert")).to_be_visible()  # on the lead's main dashboard too

    page.get_by_role("link", name="Outcomes").click()
    expect(page.locator("svg.chart").first).to_be_visible()
    assert page.locator("svg.chart").count() >= 3
    expect(page.locator("#decisions-by-source rect.chart-bar").first).to_be_attached()
    page.get_by_label("Period").select_option("30d")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{live_server.url}/cases/oversight/outcomes?period=30d&from=&to=")
    expect(page.locator("svg.chart").first).to_be_visible()
    screenshot(page, "oversight-outcomes")

    page.get_by_role("link", name="Reporters & vendors").click()
    expect(page.locator("#reports-by-vendor svg.chart")).to_be_visible()
    expect(page.locator("#delivery-alert")).to_contain_text("2 given up")
    expect(page.locator("#deliveries")).to_contain_text("Callbacks → Acme")
    screenshot(page, "oversight-sources")

    assert page.errors == []
    assert violations == []
    assert new_page.blocked == []
