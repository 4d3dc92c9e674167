"""The purge and writers on the same subject meet at its row lock (real row locks: PostgreSQL)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction  # noqa: F401 (connection: the skipif)

from cases.models import Case, Subject
from cases.services.retention import purge_expired_content
from tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locking semantics need PostgreSQL"),
]

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_subject_locked_by_another_transaction_is_skipped_and_purged_on_the_next_run():
    policy = factories.PolicyFactory(code="spam-7", retention_days=7)
    locked_case, free_case = (
        factories.CaseFactory(policy=policy, status=Case.Status.RESOLVED, resolved_at=NOW - timedelta(days=8))
        for _ in range(2)
    )
    locked, done = threading.Event(), threading.Event()

    def intake_holds_the_row():
        try:
            with transaction.atomic():
                Subject.objects.select_for_update().get(pk=locked_case.subject_id)
                locked.set()
                done.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=intake_holds_the_row)
    thread.start()
    try:
        assert locked.wait(10)
        first_run = purge_expired_content(now=NOW, batch_size=10, max_batches=1)
    finally:
        done.set()
        thread.join(10)

    # SKIP LOCKED: the run neither waited for the other transaction nor purged under it.
    assert [item.subject_id for item in first_run] == [free_case.subject_id]
    assert Subject.objects.get(pk=locked_case.subject_id).text == "hello"
    second_run = purge_expired_content(now=NOW, batch_size=10, max_batches=1)
    assert [item.subject_id for item in second_run] == [locked_case.subject_id]
