"""Vendors with a callback URL are told the outcome of the cases they reported, signed like enforcements."""

import hashlib
import hmac
import json

import pytest
from django.core.exceptions import ValidationError
from werkzeug import Response

from cases.models import VendorNotification
from cases.services import review
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "vendor-callback-secret-0123456789abcdef"


@pytest.fixture
def callback_vendor(httpserver, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    return factories.VendorFactory(
        slug="trusted", callback_url=httpserver.url_for("/outcomes"), callback_secret=SECRET
    )


@pytest.fixture
def case(review_setup, callback_vendor):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    factories.ReportFactory(case=case, vendor=callback_vendor, external_id="their-report-1")
    factories.ReportFactory(case=case)  # another vendor, without a callback
    return case


def notification_vendor(case) -> int:
    return case.reports.get(external_id="their-report-1").vendor_id


def decide(case, review_setup, action="remove"):
    """The agent decides `case`, holding it first as the agent working it does."""
    factories.hold(case, review_setup.agent)
    return review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        expected_version=case.version,
    )


def test_the_reporting_vendor_gets_one_signed_outcome(
    httpserver, case, review_setup, django_capture_on_commit_callbacks
):
    received = []

    def handler(request):
        received.append(request)
        return Response("ok", status=200)

    httpserver.expect_request("/outcomes", method="POST").respond_with_handler(handler)

    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)

    assert len(received) == 1
    request = received[0]
    timestamp = request.headers["X-Moderation-Timestamp"]
    expected = (
        "v1=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.data, hashlib.sha256).hexdigest()
    )
    assert hmac.compare_digest(request.headers["X-Moderation-Signature"], expected)
    body = json.loads(request.data)
    assert body["type"] == "case.decided" and body["outcome"] == "upheld"
    assert body["case_id"] == case.pk and body["reports"] == ["their-report-1"]
    assert body["decision"]["action"] == "remove"
    assert (
        request.headers["Idempotency-Key"] == body["id"] == f"out_{decision.pk}_{notification_vendor(case)}"
    )
    notification = VendorNotification.objects.get()
    assert notification.state == "delivered" and notification.attempts == 1


def test_no_violation_is_reported_as_rejected(
    httpserver, case, review_setup, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/outcomes", method="POST").respond_with_data("ok")

    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup, action="no-violation")

    assert json.loads(httpserver.log[0][0].data)["outcome"] == "rejected"


def test_vendors_without_a_callback_are_not_notified(case, review_setup):
    decide(case, review_setup)

    assert VendorNotification.objects.count() == 1  # only the vendor with a callback


def test_a_vendor_that_refuses_the_callback_leaves_it_failed(
    httpserver, case, review_setup, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/outcomes", method="POST").respond_with_data("no", status=400)

    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup)

    notification = VendorNotification.objects.get()
    assert (notification.state, notification.last_status) == ("failed", 400)


def test_a_callback_needs_a_long_secret(review_setup):
    vendor = factories.VendorFactory(callback_url="https://vendor.example/hook", callback_secret="short")

    with pytest.raises(ValidationError) as refused:
        vendor.full_clean()

    assert "callback_secret" in refused.value.message_dict
