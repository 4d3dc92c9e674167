"""Each final decision judges the case's reports; reporters and vendors keep a track record that weighs
priority, and leads can mute a bad-faith reporter (stored, shown, but no longer raising priority)."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from cases.models import Report, Reporter
from cases.services import review
from cases.track_record import MIN_JUDGED_FOR_ACCURACY, reporter_weight
from moderation.models import AuditEvent, Vendor
from queues.priority import priority_score
from queues.services import route_case
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor():
    return factories.VendorFactory(slug="pipeline")


def case_reported_by(review_setup, vendor, *reporters):
    case = factories.OpenCaseFactory(
        queue=review_setup.queue, policy=review_setup.policies["harassment"], reporter_count=len(reporters)
    )
    for reporter in reporters:
        factories.ReportFactory(case=case, vendor=vendor, reporter_id=reporter)
    return case


def decide(case, review_setup, action):
    """The agent decides `case`, holding it first as the agent working it does."""
    factories.hold(case, review_setup.agent)
    return review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        expected_version=case.version,
    )


def test_an_enforcing_decision_upholds_the_reports_and_counts_them(review_setup, vendor):
    case = case_reported_by(review_setup, vendor, "u1", "u2")

    decide(case, review_setup, "remove")

    assert set(Report.objects.filter(case=case).values_list("outcome", flat=True)) == {"upheld"}
    assert Reporter.objects.get(reporter_id="u1").upheld_count == 1
    assert Vendor.objects.get(pk=vendor.pk).upheld_count == 2


def test_no_violation_rejects_the_reports(review_setup, vendor):
    case = case_reported_by(review_setup, vendor, "u1")

    decide(case, review_setup, "no-violation")

    assert Report.objects.get(case=case).outcome == "rejected"
    assert Reporter.objects.get(reporter_id="u1").rejected_count == 1
    assert Vendor.objects.get(pk=vendor.pk).rejected_count == 1


def test_reports_are_judged_once(review_setup, vendor):
    case = case_reported_by(review_setup, vendor, "u1")
    decide(case, review_setup, "remove")
    from cases.services.effects import record_report_outcomes

    record_report_outcomes(case.decisions.get())

    assert Reporter.objects.get(reporter_id="u1").upheld_count == 1


def test_a_reporter_without_enough_history_weighs_fully(review_setup, vendor):
    case = case_reported_by(review_setup, vendor, "new")

    assert reporter_weight(case.pk) == (0, 1.0)


def test_a_reporter_who_is_usually_wrong_weighs_less(review_setup, vendor):
    Reporter.objects.create(vendor=vendor, reporter_id="crier", upheld_count=0, rejected_count=8)
    case = case_reported_by(review_setup, vendor, "crier")

    muted, accuracy = reporter_weight(case.pk)

    assert muted == 0
    assert accuracy == pytest.approx(1 / 10)
    assert MIN_JUDGED_FOR_ACCURACY <= 8


def test_a_muted_reporter_does_not_raise_priority(review_setup, vendor):
    Reporter.objects.create(vendor=vendor, reporter_id="troll", muted_at="2026-01-01T00:00:00Z")
    trolled = case_reported_by(review_setup, vendor, "troll")
    honest = case_reported_by(review_setup, vendor, "someone")

    route_case(case_id=trolled.pk)
    route_case(case_id=honest.pk)

    trolled.refresh_from_db()
    honest.refresh_from_db()
    assert honest.priority - trolled.priority == pytest.approx(
        priority_score(severity=3, max_score=None, distinct_reporters=1, vendor_reliability=0.5)
        - priority_score(severity=3, max_score=None, distinct_reporters=0, vendor_reliability=0.5)
    )


def test_a_lead_mutes_a_reporter_from_the_case_page(review_setup, vendor):
    case = case_reported_by(review_setup, vendor, "troll")
    lead = factories.UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="mute_reporter"))
    review_setup.queue.members.add(lead)
    browser = Client()
    browser.force_login(lead)
    report = Report.objects.get(case=case)

    page = browser.get(f"/cases/{case.pk}/").content.decode()
    response = browser.post(f"/cases/{case.pk}/reports/{report.pk}/mute", {"muted": "1"})

    assert "Mute reporter" in page
    assert response.status_code == 302
    assert Reporter.objects.get(reporter_id="troll").muted_at is not None
    assert AuditEvent.objects.filter(verb="reporter.muted", case_id=case.pk).count() == 1
    assert "muted" in browser.get(f"/cases/{case.pk}/").content.decode()


def test_an_agent_cannot_mute_reporters(agent_client, review_setup, vendor):
    case = case_reported_by(review_setup, vendor, "troll")
    report = Report.objects.get(case=case)

    page = agent_client.get(f"/cases/{case.pk}/").content.decode()
    response = agent_client.post(f"/cases/{case.pk}/reports/{report.pk}/mute", {"muted": "1"})

    assert "Mute reporter" not in page
    assert response.status_code == 403
    assert not Reporter.objects.filter(muted_at__isnull=False).exists()


def test_the_case_page_shows_a_reporters_track_record(agent_client, review_setup, vendor):
    Reporter.objects.create(vendor=vendor, reporter_id="veteran", upheld_count=7, rejected_count=3)
    case = case_reported_by(review_setup, vendor, "veteran")

    html = agent_client.get(f"/cases/{case.pk}/").content.decode()

    assert "7 of 10 upheld" in html
