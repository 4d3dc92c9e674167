"""Attacks on the oversight pages (issue 16): hostile query strings must answer 4xx naming the field, never
500, and nothing from a restricted queue may reach a lead who is not cleared for it."""

import pytest
from django.test import Client

from cases.models import Report, Reporter
from queues.models import QueueClearance
from tests import factories
from tests.accounts import fresh
from tests.cases.oversight_world import build, by_label, csv_rows

OVERSIGHT_PAGES = ["/oversight/", "/oversight/team", "/cases/oversight/outcomes", "/cases/oversight/sources"]
DSA_PAGES = ["/dsa/statements/", "/dsa/statements/export", "/dsa/transparency/"]


@pytest.fixture
def world(review_setup):
    return build(review_setup)


@pytest.fixture
def lead_client(world):
    client = Client()
    client.force_login(world.lead)
    return client


@pytest.mark.parametrize("url", OVERSIGHT_PAGES)
@pytest.mark.parametrize(
    "params",
    [
        {"period": "custom", "from": "9999-12-31", "to": "9999-12-31"},
        {"period": "custom", "from": "9999-12-01", "to": "9999-12-31"},
    ],
)
def test_a_custom_period_at_the_end_of_the_calendar_is_refused_not_a_server_error(lead_client, url, params):
    response = lead_client.get(url, params)
    assert response.status_code == 422
    assert response.context["error"].field == "to"


@pytest.mark.parametrize("url", ["/cases/oversight/outcomes", "/cases/oversight/sources"])
@pytest.mark.parametrize("value", ["²", "١٢", "9" * 5000])
def test_a_queue_filter_of_non_ascii_or_huge_digits_is_refused_naming_the_field(lead_client, url, value):
    response = lead_client.get(url, {"queue": value})
    assert response.status_code == 422
    assert response.context["error"].field == "queue"


@pytest.mark.parametrize("url", [*DSA_PAGES, "/dsa/transparency/?format=csv"])
@pytest.mark.parametrize("params", [{"until": "9999-12-31"}, {"since": "9999-12-31", "until": "9999-12-31"}])
def test_a_dsa_period_ending_on_the_last_day_of_the_calendar_is_refused_not_a_server_error(
    world, url, params
):
    lead = factories.UserFactory(username="dsa-lead", is_superuser=True)
    client = Client()
    client.force_login(lead)
    response = client.get(url, params)
    assert response.status_code == 400
    assert b"until" in response.content


def test_top_reporters_leave_out_judgements_on_restricted_cases_for_an_uncleared_lead(lead_client, world):
    # rep-1's all-time record is 8 upheld / 2 rejected; one of the upheld reports is on the restricted case.
    assert Report.objects.filter(reporter_id="rep-1", case__is_restricted=True, outcome="upheld").count() == 1
    table = by_label(csv_rows(lead_client.get("/cases/oversight/sources", {"csv": "top-reporters"})))
    assert table["Acme: rep-1"] == ["9", "7", "2", "77.8", ""]


def test_a_reporter_judged_only_on_restricted_cases_is_not_among_an_uncleared_leads_top_reporters(
    lead_client, world
):
    for n in range(3):
        factories.ReportFactory(
            vendor=world.vendor,
            case=factories.CaseFactory(queue=world.restricted_queue, is_restricted=True, status="resolved"),
            reporter_id="csam-reporter",
            outcome="upheld",
        )
    Reporter.objects.create(vendor=world.vendor, reporter_id="csam-reporter", upheld_count=3)
    rows = csv_rows(lead_client.get("/cases/oversight/sources", {"csv": "top-reporters"}))
    assert "Acme: csam-reporter" not in by_label(rows)
    assert "csam-reporter" not in lead_client.get("/cases/oversight/sources").content.decode()


def test_a_cleared_lead_sees_the_whole_track_record(world):
    QueueClearance.objects.create(queue=world.restricted_queue, user=world.lead, reason="trained")
    client = Client()
    client.force_login(fresh(world.lead))
    table = by_label(csv_rows(client.get("/cases/oversight/sources", {"csv": "top-reporters"})))
    assert table["Acme: rep-1"] == ["10", "8", "2", "80", ""]
