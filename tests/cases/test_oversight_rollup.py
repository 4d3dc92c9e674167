"""The dashboards' hourly roll-ups: recomputed from the source rows, so refreshing twice changes nothing and
a refresh touches only its window."""

from datetime import timedelta

from django.utils import timezone

from cases.models import Decision, DecisionHour, Report, ReportHour
from cases.services.oversight_rollup import refresh_oversight_hours
from tests import factories


def _decision(review_setup, when, **extra):
    case = factories.CaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    decision = factories.DecisionFactory(case=case, action=review_setup.actions["remove"], **extra)
    Decision.objects.filter(pk=decision.pk).update(created_at=when)
    return decision


def test_refreshing_the_same_hours_twice_writes_the_same_rows(review_setup):
    now = timezone.now()
    _decision(review_setup, now - timedelta(hours=1))
    _decision(review_setup, now - timedelta(hours=1), automated=True)
    first = refresh_oversight_hours(since=now - timedelta(hours=3), until=now)
    second = refresh_oversight_hours(since=now - timedelta(hours=3), until=now)
    assert first == second == (2, 0)
    assert sorted(DecisionHour.objects.values_list("source", "decisions")) == [("agent", 1), ("automated", 1)]


def test_a_refresh_leaves_older_hours_alone(review_setup):
    now = timezone.now()
    _decision(review_setup, now - timedelta(days=2))
    refresh_oversight_hours(since=now - timedelta(days=3), until=now)
    Decision.objects.all().delete()  # even if the source rows changed since, older hours keep their counts
    refresh_oversight_hours(since=now - timedelta(hours=3), until=now)
    assert DecisionHour.objects.get().decisions == 1


def test_an_overturned_first_decision_is_not_counted(review_setup):
    now = timezone.now()
    _decision(review_setup, now, review_state=Decision.ReviewState.OVERTURNED)
    _decision(review_setup, now, review_state=Decision.ReviewState.PENDING)
    refresh_oversight_hours(since=now - timedelta(hours=1), until=now)
    assert DecisionHour.objects.get().decisions == 1


def test_reports_count_when_received_and_judged_when_their_case_was_resolved(review_setup, vendor):
    now = timezone.now()
    case = factories.CaseFactory(queue=review_setup.queue, status="resolved", resolved_at=now)
    report = factories.ReportFactory(vendor=vendor, case=case, outcome="upheld")
    Report.objects.filter(pk=report.pk).update(received_at=now - timedelta(days=1))
    refresh_oversight_hours(since=now - timedelta(days=2), until=now)
    rows = sorted(ReportHour.objects.values_list("hour", "reports", "upheld", "rejected"))
    assert [row[1:] for row in rows] == [(1, 0, 0), (0, 1, 0)]
    assert rows[0][0] == (now - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def test_the_beat_task_refreshes_the_last_hours(review_setup, settings):
    from cases.tasks import refresh_oversight_hours_task

    settings.OVERSIGHT_REFRESH_HOURS = 2
    now = timezone.now()
    _decision(review_setup, now - timedelta(minutes=30))
    _decision(review_setup, now - timedelta(hours=5))
    refresh_oversight_hours_task.delay()
    assert DecisionHour.objects.get().decisions == 1
    assert "refresh-oversight-hours" in settings.CELERY_BEAT_SCHEDULE
