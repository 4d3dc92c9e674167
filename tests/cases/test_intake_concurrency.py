"""Concurrent reports on one new subject yield one case (needs real row locks: PostgreSQL)."""

import threading

import pytest
from django.db import connection, connections

from cases.models import Case, Report, Subject
from cases.services.intake import ReportInput, SubjectInput, accept_reports

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locking semantics need PostgreSQL"),
]


def _report(n: int, policy, subject_id: str = "viral-1") -> ReportInput:
    return ReportInput(
        external_id=f"c-{n}",
        policy=policy,
        subject=SubjectInput(kind="post", external_id=subject_id, text=f"text {n % 3}"),
        payload={"n": n},
        reporter_id=f"u-{n}",
    )


def _run_concurrently(jobs):
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def worker(job):
        try:
            barrier.wait()
            job()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def test_concurrent_reports_on_a_new_subject_open_exactly_one_case(vendor, policies):
    jobs = [
        (lambda n=n: accept_reports(vendor=vendor, reports=[_report(n, policies["spam"])])) for n in range(12)
    ]
    _run_concurrently(jobs)

    assert Subject.objects.count() == 1
    assert Case.objects.count() == 1
    case = Case.objects.get()
    assert case.report_count == 12
    assert Report.objects.filter(case=case).count() == 12
    versions = set(Subject.objects.get().versions.values_list("version", flat=True))
    assert versions == set(range(1, len(versions) + 1))  # versions are gapless despite the race


def test_concurrent_replays_of_one_report_store_it_once(vendor, policies):
    outcomes = []
    jobs = [
        (lambda: outcomes.extend(accept_reports(vendor=vendor, reports=[_report(1, policies["spam"])])))
        for _ in range(8)
    ]
    _run_concurrently(jobs)

    assert Report.objects.count() == 1
    assert sorted(o.status for o in outcomes) == ["created"] + ["duplicate"] * 7
    assert len({o.report_id for o in outcomes}) == 1


def test_concurrent_batches_over_overlapping_subjects_do_not_deadlock(vendor, policies):
    def batch(offset: int, reverse: bool):
        items = [_report(offset + n, policies["spam"], subject_id=f"s-{n}") for n in range(30)]
        return lambda: accept_reports(vendor=vendor, reports=items[::-1] if reverse else items)

    _run_concurrently([batch(0, False), batch(1000, True), batch(2000, False), batch(3000, True)])

    assert Case.objects.count() == 30
    assert Report.objects.count() == 120
    assert connection.vendor == "postgresql"


def test_a_report_never_joins_a_case_resolved_while_it_was_being_added(vendor, policies):
    """The router resolves the case while intake is between reading and writing: the report opens a new case."""
    import time

    from django.db import transaction
    from django.utils import timezone

    accept_reports(vendor=vendor, reports=[_report(0, policies["spam"], subject_id="s-race")])
    case = Case.objects.get()
    locked = threading.Event()

    def router_resolves():
        with transaction.atomic():
            Case.objects.select_for_update().get(pk=case.pk)
            locked.set()
            time.sleep(0.5)  # intake arrives meanwhile and must wait for this lock
            Case.objects.filter(pk=case.pk).update(status=Case.Status.RESOLVED, resolved_at=timezone.now())

    def intake():
        locked.wait(5)
        late = _report(1, policies["harassment"], subject_id="s-race")
        accept_reports(vendor=vendor, reports=[late])

    _run_concurrently([router_resolves, intake])

    late_report = Report.objects.get(external_id="c-1")
    assert late_report.case_id != case.pk
    assert Case.objects.get(pk=late_report.case_id).status == Case.Status.OPEN
