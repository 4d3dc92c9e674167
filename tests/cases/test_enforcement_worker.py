"""Enforcements and vendor callbacks end to end with a real Celery worker process on a Redis broker and
PostgreSQL (not eager).

A decision is committed, its deliveries are enqueued on commit, and a separate worker process signs and POSTs
them to the platform and to the reporting vendor (verifying receivers on loopback), retrying with backoff
through failures until delivered or the kind's attempt limit (3 here, 0.2 s backoff base) runs out.
Needs PostgreSQL and TEST_REDIS_URL (CI sets both); elsewhere the module is skipped.
"""

import os
import time

import pytest
from django.db import connection  # noqa: F401 (the skipif condition below reads it)

from cases.models import Enforcement, VendorCallback
from cases.services import review
from cases.services.outbox import canonical_body
from moderation.models import AuditEvent, EnforcementEndpoint
from tests import factories
from tests.cases.test_enforcement import PATH, SECRET, Platform
from tests.cases.test_worker_e2e import run_worker, wait_for
from tests.webhooks import Receiver

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
MAX_ATTEMPTS = 3

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql' or not REDIS_URL",
        reason="needs PostgreSQL and TEST_REDIS_URL (a real broker)",
    ),
]


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    yield from run_worker(
        django_db_blocker,
        ENFORCEMENT_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        VENDOR_CALLBACK_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        ENFORCEMENT_RETRY_BASE_SECONDS="0.2",
    )


@pytest.fixture
def platform(httpserver):
    """The platform on loopback (the worker is allowed private networks), the active endpoint."""
    receiver = Platform()
    httpserver.expect_request(PATH, method="POST").respond_with_handler(receiver.handle)
    EnforcementEndpoint.objects.create(
        name="platform", url=f"http://127.0.0.1:{httpserver.port}{PATH}", secret=SECRET, timeout_seconds=5
    )
    return receiver


VENDOR_PATH, VENDOR_SECRET = "/vendor/outcomes", "vendor-callback-secret-" + "9" * 20


@pytest.fixture
def reporting_vendor(httpserver):
    """A vendor whose callback URL is a receiver on loopback; its reports bring content (a party)."""
    receiver = Receiver(VENDOR_SECRET)
    httpserver.expect_request(VENDOR_PATH, method="POST").respond_with_handler(receiver.handle)
    receiver.vendor = factories.VendorFactory(
        callback_url=f"http://127.0.0.1:{httpserver.port}{VENDOR_PATH}", callback_secret=VENDOR_SECRET
    )
    return receiver


def decide_remove(review_setup, *, reported_by=None) -> Enforcement:
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    if reported_by is not None:
        factories.ReportFactory(case=case, vendor=reported_by)
    factories.hold(case, review_setup.agent)
    decision = review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions["remove"].pk,
        reason="Insults another user.",
        expected_version=None,
    )  # committed here: the delivery goes to the broker
    return Enforcement.objects.get(decision=decision)


def settled(enforcement: Enforcement, state: str):
    return lambda: Enforcement.objects.filter(pk=enforcement.pk, state=state).first()


def test_the_worker_delivers_a_decision_once_signed(worker, platform, review_setup):
    enforcement = decide_remove(review_setup)

    delivered = wait_for(settled(enforcement, "delivered"), output=worker)

    time.sleep(0.5)  # nothing else arrives
    assert [(r.verified, r.status) for r in platform.received] == [(True, 200)]
    (received,) = platform.received
    assert received.key == enforcement.idempotency_key
    assert received.headers["X-Moderation-Event"] == "enforcement.apply"
    assert received.body == canonical_body(enforcement.payload)
    assert received.json()["decision"]["action"] == "remove"
    assert (delivered.attempts, delivered.last_status) == (1, 200)
    assert AuditEvent.objects.filter(verb="enforcement.delivered", target_id=str(enforcement.pk)).count() == 1


def test_the_worker_retries_a_failing_platform_until_it_answers(worker, platform, review_setup):
    platform.answer(500, 503)

    enforcement = decide_remove(review_setup)

    delivered = wait_for(settled(enforcement, "delivered"), output=worker)
    assert [r.status for r in platform.received] == [500, 503, 200]
    assert {(r.key, r.body) for r in platform.received} == {
        (enforcement.idempotency_key, canonical_body(enforcement.payload))
    }
    assert delivered.attempts == 3


def test_the_worker_gives_up_after_the_last_attempt_and_marks_the_enforcement_failed(
    worker, platform, review_setup
):
    platform.answer(*[500] * (MAX_ATTEMPTS + 5))

    enforcement = decide_remove(review_setup)

    failed = wait_for(settled(enforcement, "failed"), output=worker)
    time.sleep(1.5)  # well past the next backoff: no attempt after the last
    assert [r.status for r in platform.received] == [500] * MAX_ATTEMPTS
    assert all(r.verified for r in platform.received)
    assert {(r.key, r.body) for r in platform.received} == {
        (enforcement.idempotency_key, canonical_body(enforcement.payload))
    }
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.last_status) == ("failed", MAX_ATTEMPTS, 500)
    assert AuditEvent.objects.filter(verb="enforcement.failed", target_id=str(enforcement.pk)).count() == 1


def callback_settled(enforcement: Enforcement, state: str):
    return lambda: VendorCallback.objects.filter(decision_id=enforcement.decision_id, state=state).first()


def test_the_worker_retries_a_failing_vendor_callback_until_it_answers(
    worker, platform, reporting_vendor, review_setup
):
    reporting_vendor.answer(500, 503)

    enforcement = decide_remove(review_setup, reported_by=reporting_vendor.vendor)

    delivered = wait_for(callback_settled(enforcement, "delivered"), output=worker)
    assert [r.status for r in reporting_vendor.received] == [500, 503, 200]
    assert {(r.key, r.body) for r in reporting_vendor.received} == {
        (delivered.idempotency_key, canonical_body(delivered.payload))
    }
    assert delivered.attempts == 3
    wait_for(settled(enforcement, "delivered"), output=worker)  # the enforcement went its own way


def test_the_worker_gives_up_on_a_vendor_callback_after_its_last_attempt(
    worker, platform, reporting_vendor, review_setup
):
    reporting_vendor.answer(*[500] * (MAX_ATTEMPTS + 5))

    enforcement = decide_remove(review_setup, reported_by=reporting_vendor.vendor)

    failed = wait_for(callback_settled(enforcement, "failed"), output=worker)
    time.sleep(1.5)  # well past the next backoff: no attempt after the last
    assert [r.status for r in reporting_vendor.received] == [500] * MAX_ATTEMPTS
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.last_status) == ("failed", MAX_ATTEMPTS, 500)
    assert AuditEvent.objects.filter(verb="vendor_callback.failed", target_id=str(failed.pk)).count() == 1
