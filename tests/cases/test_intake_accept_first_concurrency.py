"""Accept-first under concurrency: retries of one key store it once, two groupers never group a report twice
(needs real row locks and a real sequence: PostgreSQL)."""

import pytest
from django.db import connection

from cases.models import AcceptedReport, Case, Report
from cases.services import intake_accept_first
from tests.cases.test_intake_accept_first import _report
from tests.cases.test_intake_concurrency import _run_concurrently

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locking semantics need PostgreSQL"),
]


@pytest.fixture(autouse=True)
def no_grouping(monkeypatch):
    monkeypatch.setattr(intake_accept_first, "enqueue_grouping", lambda: None)


def test_concurrent_retries_of_one_accepted_report_store_it_once(vendor, policies):
    outcomes = []
    item = _report(1, policies["spam"])
    _run_concurrently(
        [lambda: outcomes.extend(intake_accept_first.accept_reports_first(vendor=vendor, reports=[item]))]
        * 10
    )

    assert AcceptedReport.objects.count() == 1
    assert {o.status for o in outcomes} == {"accepted"}
    assert {o.report_id for o in outcomes} == {AcceptedReport.objects.get().pk}


def test_concurrent_groupers_make_each_report_exactly_once(vendor, policies):
    items = [_report(n, policies["spam"], subject_id=f"s-{n % 7}") for n in range(120)]
    intake_accept_first.accept_reports_first(vendor=vendor, reports=items)

    _run_concurrently([lambda: intake_accept_first.group_accepted_reports(limit=40)] * 4)
    intake_accept_first.group_accepted_reports()  # whatever a loser of the claim left

    assert Report.objects.count() == 120
    assert set(Report.objects.values_list("id", flat=True)) == set(
        AcceptedReport.objects.values_list("id", flat=True)
    )
    assert Case.objects.count() == 7  # one open case per subject
    assert not AcceptedReport.objects.filter(grouped_at__isnull=True).exists()
    assert connection.vendor == "postgresql"


def test_a_grouper_killed_after_its_reports_were_made_is_taken_over_without_duplicates(vendor, policies):
    from datetime import timedelta

    from django.utils import timezone

    items = [_report(n, policies["spam"], subject_id=f"k-{n}") for n in range(5)]
    intake_accept_first.accept_reports_first(vendor=vendor, reports=items)
    intake_accept_first.group_accepted_reports()
    # As if the grouper died before recording: its claim lapsed, nothing marked grouped.
    AcceptedReport.objects.update(
        grouped_at=None, outcome="", claimed_at=timezone.now() - timedelta(minutes=10)
    )

    assert intake_accept_first.group_accepted_reports() == 5

    assert Report.objects.count() == 5
    assert set(AcceptedReport.objects.values_list("outcome", flat=True)) == {"created"}


def test_plain_and_accept_first_posts_of_one_key_racing_make_one_report_and_no_error(vendor, policies):
    from cases.services.intake import accept_reports

    item = _report(1, policies["spam"])
    plain, accepted = [], []
    _run_concurrently(
        [lambda: plain.extend(accept_reports(vendor=vendor, reports=[item]))] * 4
        + [lambda: accepted.extend(intake_accept_first.accept_reports_first(vendor=vendor, reports=[item]))]
        * 4
    )
    intake_accept_first.group_accepted_reports()

    report = Report.objects.get()  # one report for the key, whichever path won
    assert {o.status for o in plain} <= {"created", "duplicate"}
    assert {o.report_id for o in plain} == {report.pk}
    assert {o.status for o in accepted} <= {"accepted", "duplicate"}
    for row in AcceptedReport.objects.all():  # a 202's id leads to that report
        assert row.report_id == report.pk and row.outcome in {"created", "duplicate"}
