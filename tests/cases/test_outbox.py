"""One outbox for both kinds of signed webhook (`cases.services.outbox`): enforcements to the platform and
vendor callbacks to the vendors that are parties to a case. Every test here runs for both kinds.

A decision on a case reported (with content) by a vendor that has a callback URL creates one row of each
kind; `delivery` picks one and points its kind's destination at a real loopback receiver
(`tests.webhooks.Receiver`). A broker that is down is a Redis URL on a port nobody listens on; a race is two
threads on one row. Nothing in the HTTP path or the outbox is mocked; the stand-in broker (`held`) only holds
the messages sent so the test runs them as a worker would.
"""

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases import tasks
from cases.models import OutboxMessage
from cases.services import outbox, review
from cases.services.outbox import canonical_body
from moderation.celery import app
from moderation.models import AuditEvent, EnforcementEndpoint
from tests import factories
from tests.webhooks import HeldTasks, LoopbackServers, Receiver, backoff_passes, free_port, hold_task

pytestmark = pytest.mark.django_db

SECRET = "outbox-secret-" + "5e" * 20
PATH = "/hooks/moderation"

KINDS = {
    "enforcement": {
        "kind": outbox.ENFORCEMENT,
        "max_attempts": "ENFORCEMENT_MAX_ATTEMPTS",
        "event": "enforcement.apply",
    },
    "vendor_callback": {
        "kind": outbox.VENDOR_CALLBACK,
        "max_attempts": "VENDOR_CALLBACK_MAX_ATTEMPTS",
        "event": "case.decided",
    },
}
OTHER = {"enforcement": "vendor_callback", "vendor_callback": "enforcement"}


@dataclass
class Delivery:
    """One kind's row of a decision, its receiver (up unless asked), and how to drive it."""

    name: str
    kind: outbox.Kind
    row: OutboxMessage
    receiver: Receiver
    settings: object

    def refreshed(self) -> OutboxMessage:
        self.row.refresh_from_db()
        return self.row

    def attempt(self) -> outbox.DeliveryOutcome:
        """One attempt, as the worker holding the row makes it once its backoff (if any) is over."""
        backoff_passes(self.row)
        return outbox.deliver(kind=self.kind, message_id=self.row.pk)

    def limit_attempts(self, number: int) -> None:
        """This kind gets `number` attempts; the other kind's limit is set apart, to show it is not read."""
        setattr(self.settings, KINDS[self.name]["max_attempts"], number)
        setattr(self.settings, KINDS[OTHER[self.name]]["max_attempts"], number + 5)

    def set_timeout(self, seconds: float) -> None:
        if self.name == "enforcement":
            EnforcementEndpoint.objects.filter(is_active=True).update(timeout_seconds=seconds)
        else:
            self.settings.VENDOR_CALLBACK_TIMEOUT_SECONDS = seconds

    def audit(self, outcome: str) -> list[AuditEvent]:
        return list(
            AuditEvent.objects.filter(verb=f"{self.name}.{outcome}", target_id=str(self.row.pk)).order_by(
                "id"
            )
        )

    def held_tasks(self, monkeypatch) -> HeldTasks:
        return hold_task(monkeypatch, self.kind.task, self.kind.model)


@pytest.fixture
def servers(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    built = LoopbackServers()
    yield built
    built.stop()


@pytest.fixture(params=list(KINDS))
def decided(request, review_setup, servers, httpserver, settings, django_capture_on_commit_callbacks):
    """Build a `Delivery` of the parametrized kind for a fresh `remove` decision, enqueued on commit but not
    run yet (pending, no attempt); `commit=True` runs the enqueue on commit. `threaded=True`: its receiver
    answers requests concurrently."""
    name = request.param

    def build(*, threaded: bool = False, commit: bool = False) -> Delivery:
        receiver = servers.build(secret=SECRET, path=PATH, threaded=threaded)
        httpserver.expect_request(PATH, method="POST").respond_with_data("ok")  # the other kind's receiver
        other = httpserver.url_for(PATH)
        urls = {"enforcement": receiver.url, "vendor_callback": other}
        if name == "vendor_callback":
            urls = {"enforcement": other, "vendor_callback": receiver.url}
        EnforcementEndpoint.objects.create(
            name="platform", url=urls["enforcement"], secret=SECRET, timeout_seconds=5.0
        )
        vendor = factories.VendorFactory(
            slug="trusted", callback_url=urls["vendor_callback"], callback_secret=SECRET
        )
        case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
        factories.ReportFactory(case=case, vendor=vendor, external_id="their-report-1")
        factories.hold(case, review_setup.agent)
        with django_capture_on_commit_callbacks(execute=commit):
            decision = review.record_decision(
                case_id=case.pk,
                user=review_setup.agent,
                policy_id=case.policy_id,
                action_id=review_setup.actions["remove"].pk,
                expected_version=None,
            )
        model = KINDS[name]["kind"].model
        return Delivery(name, KINDS[name]["kind"], model.objects.get(decision=decision), receiver, settings)

    return build


# --- a broker that is down at enqueue -----------------------------------------------------------------------


@pytest.fixture
def broker_down():
    """Celery sends to a Redis broker on a loopback port nobody listens on: every enqueue is refused."""
    previous = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager = False
    app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    app._after_fork()  # forget pooled connections to any other broker (Celery's own reset after a fork)

    def back_up():
        app.conf.task_always_eager, app.conf.broker_url = previous
        app._after_fork()

    yield back_up
    back_up()


def test_a_broker_down_at_enqueue_leaves_the_row_pending_for_the_sweeper_which_delivers_it_later(
    decided, broker_down
):
    delivery = decided(commit=True)  # the decision commits; the enqueue on commit is refused

    row = delivery.refreshed()
    assert (row.state, row.attempts) == ("pending", 0)
    assert row.next_attempt_at is None  # held by no task: the next sweep takes it
    assert delivery.receiver.received == []

    broker_down()  # the broker is back (eager here: the sweeper's task runs at once)
    assert tasks.sweep_outbox.run() == 2  # this row and the decision's row of the other kind

    row = delivery.refreshed()
    assert (row.state, row.attempts, row.last_status) == ("delivered", 1, 200)
    assert [r.key for r in delivery.receiver.received] == [row.idempotency_key]
    assert len(delivery.audit("delivered")) == 1
    assert tasks.sweep_outbox.run() == 0


@pytest.fixture
def held_broker(monkeypatch) -> dict[str, HeldTasks]:
    """Both kinds' delivery tasks sent to a stand-in broker that holds them: a decision committed for real
    (transactional tests) leaves its rows pending until the test runs their tasks."""
    return {
        name: hold_task(monkeypatch, spec["kind"].task, spec["kind"].model) for name, spec in KINDS.items()
    }


# --- answers and timeouts -----------------------------------------------------------------------------------


def test_a_5xx_is_retried_after_a_backoff_and_the_retry_delivers_the_same_bytes(
    decided, monkeypatch, settings
):
    settings.ENFORCEMENT_RETRY_BASE_SECONDS = 10
    delivery = decided()
    held = delivery.held_tasks(monkeypatch)
    delivery.receiver.answer(503)

    assert held.run(delivery.row.pk) == "pending"

    [((pk,), countdown)] = held.sent
    assert pk == delivery.row.pk and 5 <= countdown <= 10
    row = delivery.refreshed()
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("pending", 1, 503, "HTTP 503")
    assert row.next_attempt_at > timezone.now()  # not due before the countdown is over
    assert outbox.deliver(kind=delivery.kind, message_id=row.pk).claimed is False

    assert held.run_next() == "delivered"

    row = delivery.refreshed()
    assert (row.state, row.attempts, row.last_status, row.last_error) == ("delivered", 2, 200, "")
    assert [r.status for r in delivery.receiver.received] == [503, 200]
    assert {(r.key, r.body, r.verified) for r in delivery.receiver.received} == {
        (row.idempotency_key, canonical_body(row.payload), True)
    }
    assert delivery.receiver.received[0].headers["X-Moderation-Event"] == KINDS[delivery.name]["event"]
    assert list(delivery.receiver.applied) == [row.idempotency_key]
    assert (len(delivery.audit("delivered")), delivery.audit("failed")) == (1, [])
    assert held.sent == []


def test_a_receiver_slower_than_the_kinds_timeout_is_a_retryable_timeout(decided):
    delivery = decided(threaded=True)
    delivery.set_timeout(0.3)
    delivery.receiver.stall_next = 1.5  # applies it, answers too late

    first = delivery.attempt()

    assert (first.state, first.retry) == ("pending", True)
    row = delivery.refreshed()
    assert "0.3" in row.last_error and row.last_status is None
    assert row.claimed_until is None  # the claim ends with the attempt

    second = delivery.attempt()

    assert second.state == "delivered"
    assert [r.key for r in delivery.receiver.received] == [row.idempotency_key] * 2
    assert len(delivery.receiver.applied) == 1  # the receiver deduplicated on the key


def test_retries_become_final_at_the_kinds_own_attempt_limit(decided, monkeypatch):
    delivery = decided()
    delivery.limit_attempts(3)
    held = delivery.held_tasks(monkeypatch)
    delivery.receiver.answer(*[503] * 10)

    outcomes = [held.run(delivery.row.pk)]
    while held.sent:
        outcomes.append(held.run_next())

    assert outcomes == ["pending", "pending", "failed"]
    row = delivery.refreshed()
    assert (row.state, row.attempts, row.last_status, row.next_attempt_at) == ("failed", 3, 503, None)
    assert len(delivery.receiver.received) == 3
    (failed,) = delivery.audit("failed")
    assert failed.actor_label == delivery.name and failed.case_id == row.case_id
    assert (failed.data["key"], failed.data["status"]) == (row.idempotency_key, 503)
    assert tasks.sweep_outbox.run() == 0  # a failed row is a lead's to retry, not the sweeper's


def test_a_refusal_fails_at_once_whatever_attempts_remain(decided, monkeypatch):
    delivery = decided()
    held = delivery.held_tasks(monkeypatch)
    delivery.receiver.answer(422)

    assert held.run(delivery.row.pk) == "failed"

    assert held.sent == []
    row = delivery.refreshed()
    assert (row.state, row.attempts, row.last_status) == ("failed", 1, 422)
    assert len(delivery.audit("failed")) == 1


# --- claims: one attempt at a time, whoever sends the message -----------------------------------------------


def test_a_claimed_row_is_not_sent_by_a_second_claimer_until_the_claim_runs_out(decided):
    delivery = decided()
    row = delivery.row
    now = timezone.now()

    first = outbox.claim(delivery.kind, row, lease_seconds=60, now=now)
    second = outbox.claim(delivery.kind, row, lease_seconds=60, now=now)
    duplicate = outbox.deliver(kind=delivery.kind, message_id=row.pk)  # e.g. the sweeper's task

    assert first is not None and second is None
    assert (duplicate.state, duplicate.claimed) == ("pending", False)
    assert delivery.receiver.received == []
    assert (delivery.refreshed().attempts, delivery.refreshed().claimed_until) == (0, first)

    # The first claimer died mid-call: once its claim has run out, the row is free again.
    type(row).objects.filter(pk=row.pk).update(claimed_until=now - timedelta(seconds=1))
    assert outbox.deliver(kind=delivery.kind, message_id=row.pk).state == "delivered"
    assert len(delivery.receiver.received) == 1


def test_a_claimer_that_read_the_row_before_another_attempt_loses_its_claim(decided):
    delivery = decided()
    stale_read = delivery.kind.model.objects.get(pk=delivery.row.pk)
    delivery.receiver.answer(503)
    assert delivery.attempt().state == "pending"  # another worker attempted meanwhile
    backoff_passes(delivery.row)

    assert outbox.claim(delivery.kind, stale_read, lease_seconds=60, now=timezone.now()) is None
    assert len(delivery.receiver.received) == 1


@pytest.mark.django_db(transaction=True)
def test_a_sweeper_and_a_countdown_task_racing_for_one_row_send_it_once(decided, settings, held_broker):
    """The row's task is late (held by the broker) and the sweeper, finding the row overdue, sends another for
    it. Both tasks then start at the same moment, on two threads with their own database connections. The
    receiver takes its time answering, so the loser tries while the winner's call is in flight. Exactly one
    request reaches the receiver. (On SQLite the deterministic claim tests above stand in for this one: its
    shared in-memory test database refuses a second writer at once instead of making it wait.)"""
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL")
    delivery = decided(threaded=True, commit=True)
    held = held_broker[delivery.name]
    [(on_commit_message, _)] = held.sent
    delivery.receiver.stall_all = 0.5
    overdue = timezone.now() - timedelta(seconds=settings.ENFORCEMENT_STALE_SECONDS + 60)
    delivery.kind.model.objects.filter(pk=delivery.row.pk).update(next_attempt_at=overdue)
    assert outbox.sweep(kind=delivery.kind) == 1
    [_, (sweepers_message, _)] = held.sent
    assert sweepers_message == on_commit_message == (delivery.row.pk,)
    start = threading.Barrier(2)
    results, errors = [], []

    def run(message):
        try:
            start.wait(5)
            # The task with a request context of its own on this thread (`apply` makes it a final attempt,
            # which changes nothing here: the first attempt succeeds).
            results.append(held.task.apply(args=message).result)  # raises here if the task did
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(message,)) for message in (on_commit_message, sweepers_message)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sorted(results) == ["delivered", "pending"]  # the loser found the row claimed and sent nothing
    assert len(delivery.receiver.received) == 1
    row = delivery.refreshed()
    assert (row.state, row.attempts, row.claimed_until) == ("delivered", 1, None)
    assert len(delivery.audit("delivered")) == 1


@pytest.mark.django_db(transaction=True)
def test_an_attempt_whose_claim_ran_out_and_was_taken_over_records_nothing(decided, held_broker):
    """A worker whose call outlived its claim (a stuck network, a paused process) must not overwrite the row
    another worker has claimed since: its outcome is dropped, the new claimer's stands."""
    delivery = decided(commit=True)
    row = delivery.row
    taken_over = {}

    def another_worker_claims_after_the_first_claim_ran_out():
        try:
            first = delivery.kind.model.objects.get(pk=row.pk).claimed_until
            taken_over["until"] = outbox.claim(
                delivery.kind, row, lease_seconds=60, now=first + timedelta(seconds=1)
            )
        finally:
            connection.close()

    delivery.receiver.during_request = another_worker_claims_after_the_first_claim_ran_out

    outcome = outbox.deliver(kind=delivery.kind, message_id=row.pk)

    assert taken_over["until"] is not None
    assert (outcome.state, outcome.claimed) == ("pending", False)
    assert len(delivery.receiver.received) == 1
    row.refresh_from_db()
    assert (row.state, row.attempts, row.claimed_until) == ("pending", 0, taken_over["until"])


# --- a lead's retry -----------------------------------------------------------------------------------------


def test_a_leads_retry_of_a_failed_row_gets_the_full_attempts_again_and_is_audited(
    decided, monkeypatch, django_capture_on_commit_callbacks
):
    delivery = decided()
    delivery.limit_attempts(2)
    held = delivery.held_tasks(monkeypatch)
    delivery.receiver.answer(503, 503, 503)
    held.run(delivery.row.pk)
    assert held.run_next() == "failed"
    lead = factories.UserFactory(username="lena")

    with django_capture_on_commit_callbacks(execute=True):
        retried = outbox.retry(kind=delivery.kind, message_id=delivery.row.pk, user=lead)

    assert retried is not None and retried.state == "pending"
    assert held.run_next() == "pending"  # attempt 3 in all, the first of two after the retry
    assert held.run_next() == "delivered"
    row = delivery.refreshed()
    assert (row.state, row.attempts) == ("delivered", 4)
    (event,) = delivery.audit("retried")
    assert (event.actor_label, event.data) == ("lena", {"key": row.idempotency_key, "attempts_so_far": 2})
    assert outbox.retry(kind=delivery.kind, message_id=row.pk, user=lead) is None  # nothing to retry now
