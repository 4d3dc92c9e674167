"""Vendor callbacks: the vendors that are parties to a case (a report of theirs brought content) and have a
callback URL are told its outcome, signed like enforcements; leads see and retry them on the case page and
in the admin. Delivery itself (retries, the sweeper, claims) is the outbox's: test_outbox.py.

Each vendor's callback URL is a real receiver on loopback (`tests.webhooks.Receiver`); nothing is mocked.
"""

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import Decision, Report, VendorCallback
from cases.services import review
from cases.services.vendor_callbacks import notify_reporting_vendors
from moderation.models import AuditEvent
from tests import factories
from tests.webhooks import LoopbackServers, Receiver

pytestmark = pytest.mark.django_db

SECRET = "vendor-callback-secret-0123456789abcdef"
PATH = "/outcomes"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def servers(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    built = LoopbackServers()
    yield built
    built.stop()


@pytest.fixture
def receiver(httpserver, settings) -> Receiver:
    """The trusted vendor's callback URL."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    receiver = Receiver(SECRET)
    httpserver.expect_request(PATH, method="POST").respond_with_handler(receiver.handle)
    receiver.url = httpserver.url_for(PATH)
    return receiver


@pytest.fixture
def callback_vendor(receiver):
    return factories.VendorFactory(
        slug="trusted", name="Trusted flagger", callback_url=receiver.url, callback_secret=SECRET
    )


@pytest.fixture
def case(review_setup, callback_vendor):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    factories.ReportFactory(case=case, vendor=callback_vendor, external_id="their-report-1")
    factories.ReportFactory(case=case)  # another vendor, without a callback
    return case


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


def audit(verb: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb, **filters).order_by("id"))


# --- who is told, and what ----------------------------------------------------------------------------------


def test_the_reporting_vendor_gets_one_signed_outcome(
    receiver, case, callback_vendor, review_setup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)

    (received,) = receiver.received
    assert received.verified and received.headers["X-Moderation-Event"] == "case.decided"
    body = received.json()
    assert body["type"] == "case.decided" and body["outcome"] == "upheld"
    assert body["case_id"] == case.pk and body["reports"] == ["their-report-1"]
    assert body["decision"]["action"] == "remove"
    assert received.key == body["id"] == f"out_{decision.pk}_{callback_vendor.pk}"
    callback = VendorCallback.objects.get()
    assert (callback.state, callback.attempts, callback.last_status) == ("delivered", 1, 200)
    (delivered,) = audit("vendor_callback.delivered", case_id=case.pk)
    assert (delivered.actor_label, delivered.target_type) == ("vendor_callback", "cases.vendorcallback")
    assert delivered.data == {
        "vendor": "trusted",
        "key": callback.idempotency_key,
        "status": 200,
        "error": "",
    }


def test_no_violation_is_reported_as_rejected(
    receiver, case, review_setup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup, action="no-violation")

    assert receiver.received[0].json()["outcome"] == "rejected"


def test_vendors_without_a_callback_are_not_notified(case, review_setup):
    decide(case, review_setup)

    assert VendorCallback.objects.count() == 1  # only the vendor with a callback


def test_a_vendor_whose_report_only_named_the_subject_is_not_told_the_outcome(
    receiver, servers, review_setup, callback_vendor, django_capture_on_commit_callbacks
):
    """Naming a subject id is not enough to learn how someone else's report was judged: only vendors whose
    reports brought content are parties to the case (`Report.carried_content`), as for the outcome API."""
    bystander_url = servers.build(secret=SECRET, path=PATH)
    bystander = factories.VendorFactory(
        slug="bystander", callback_url=bystander_url.url, callback_secret=SECRET
    )
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    factories.ReportFactory(case=case, vendor=callback_vendor, external_id="content-1")
    factories.ReportFactory(case=case, vendor=callback_vendor, external_id="id-only-1", carried_content=False)
    factories.ReportFactory(case=case, vendor=bystander, external_id="id-only-2", carried_content=False)

    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup)

    assert bystander_url.received == []
    assert list(VendorCallback.objects.values_list("vendor__slug", flat=True)) == ["trusted"]
    # The party's body names its reports that brought content, the ones that made it a party.
    assert receiver.received[0].json()["reports"] == ["content-1"]


def test_callbacks_for_many_party_vendors_take_the_same_queries_as_for_one(review_setup):
    def case_reported_by(vendor_count: int) -> Decision:
        case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
        for n in range(vendor_count):
            vendor = factories.VendorFactory(
                callback_url="https://vendor.example/hook", callback_secret=SECRET
            )
            factories.ReportFactory.create_batch(2, case=case, vendor=vendor)
        return factories.DecisionFactory(
            case=case, policy=case.policy, action=review_setup.actions["remove"], mode=Decision.Mode.LIVE
        )

    counts = {}
    for vendors in (1, 6):
        decision = case_reported_by(vendors)
        with CaptureQueriesContext(connection) as queries:
            callbacks = notify_reporting_vendors(decision, outcome=Report.Outcome.UPHELD)
        assert len(callbacks) == VendorCallback.objects.filter(decision=decision).count() == vendors
        assert all(len(callback.payload["reports"]) == 2 for callback in callbacks)
        counts[vendors] = len(queries)

    assert counts[6] == counts[1] <= 2  # the vendors' reports, then one insert


def test_notifying_again_for_the_same_decision_adds_nothing(case, review_setup):
    decision = decide(case, review_setup)

    assert notify_reporting_vendors(decision, outcome=Report.Outcome.UPHELD) == []
    assert VendorCallback.objects.count() == 1


def test_a_vendor_that_refuses_the_callback_leaves_it_failed(
    receiver, case, review_setup, django_capture_on_commit_callbacks
):
    receiver.answer(400)

    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup)

    callback = VendorCallback.objects.get()
    assert (callback.state, callback.last_status) == ("failed", 400)
    (failed,) = audit("vendor_callback.failed", case_id=case.pk)
    assert failed.data["status"] == 400


def test_a_callback_needs_a_long_secret(review_setup):
    vendor = factories.VendorFactory(callback_url="https://vendor.example/hook", callback_secret="short")

    with pytest.raises(ValidationError) as refused:
        vendor.full_clean()

    assert "callback_secret" in refused.value.message_dict


# --- the case page: leads see and retry them ---------------------------------------------------------------


@pytest.fixture
def lead(review_setup):
    user = factories.UserFactory(username="lena")
    review_setup.queue.members.add(user)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="cases", codename="retry_enforcement")
    )
    return user


@pytest.fixture
def failed_callback(receiver, case, review_setup, django_capture_on_commit_callbacks) -> VendorCallback:
    """The case decided while the vendor answered 500: failed after the one eager attempt."""
    receiver.answer(500)
    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup)
    callback = VendorCallback.objects.get()
    assert callback.state == VendorCallback.State.FAILED
    return callback


def retry_url(case, callback) -> str:
    return reverse("cases:retry-vendor-callback", args=[case.pk, callback.pk])


def test_the_case_page_shows_vendor_callbacks_and_a_retry_button_only_to_leads(
    failed_callback, case, lead, review_setup, client
):
    button = f'action="{retry_url(case, failed_callback)}"'

    client.force_login(review_setup.agent)
    agent_page = client.get(f"/cases/{case.pk}/").content.decode()
    client.force_login(lead)
    lead_page = client.get(f"/cases/{case.pk}/").content.decode()

    for html in (agent_page, lead_page):
        assert 'id="vendor-callbacks"' in html and "Trusted flagger" in html
        assert failed_callback.idempotency_key in html and "HTTP 500" in html
    assert button not in agent_page
    assert button in lead_page


def test_a_leads_htmx_retry_of_a_failed_callback_delivers_it_and_swaps_the_table(
    failed_callback, receiver, case, lead, client, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(case, failed_callback), **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="vendor-callbacks"')
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Delivery queued again."
    failed_callback.refresh_from_db()
    assert (failed_callback.state, failed_callback.attempts) == ("delivered", 2)
    assert [r.status for r in receiver.received] == [500, 200]
    assert {r.key for r in receiver.received} == {failed_callback.idempotency_key}
    (retried,) = audit("vendor_callback.retried", case_id=case.pk)
    assert (retried.actor_label, retried.data["attempts_so_far"]) == ("lena", 1)


def test_an_agent_cannot_retry_a_vendor_callback_nor_a_lead_one_of_another_case(
    failed_callback, case, lead, review_setup, client
):
    client.force_login(review_setup.agent)
    assert client.post(retry_url(case, failed_callback), **HX).status_code == 403
    other_case = factories.OpenCaseFactory(queue=review_setup.queue, policy=case.policy)
    client.force_login(lead)
    assert client.post(retry_url(other_case, failed_callback)).status_code == 404

    failed_callback.refresh_from_db()
    assert failed_callback.state == VendorCallback.State.FAILED
    assert audit("vendor_callback.retried") == []


# --- the admin ----------------------------------------------------------------------------------------------

CHANGELIST = "/admin/cases/vendorcallback/"


def staff_lead(review_setup, *, member: bool = True):
    user = factories.UserFactory(username="staff-lead", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="cases", codename__in=["view_vendorcallback", "retry_enforcement"]
        )
    )
    if member:
        review_setup.queue.members.add(user)
    return user


def test_the_admin_lists_vendor_callbacks_of_visible_cases_and_retries_failed_ones(
    failed_callback, receiver, review_setup, client, django_capture_on_commit_callbacks
):
    client.force_login(staff_lead(review_setup))
    changelist = client.get(CHANGELIST).content.decode()
    assert failed_callback.idempotency_key in changelist and "retry_failed" in changelist

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            CHANGELIST,
            {"action": "retry_failed", "_selected_action": [str(failed_callback.pk)], "index": "0"},
            follow=True,
        )

    assert "1 delivery queued again." in [str(m) for m in response.context["messages"]]
    failed_callback.refresh_from_db()
    assert failed_callback.state == VendorCallback.State.DELIVERED
    assert len(audit("vendor_callback.retried")) == 1


def test_the_admin_hides_vendor_callbacks_of_cases_the_user_cannot_see(failed_callback, review_setup, client):
    client.force_login(staff_lead(review_setup, member=False))

    changelist = client.get(CHANGELIST)

    assert changelist.status_code == 200
    assert failed_callback.idempotency_key not in changelist.content.decode()
    assert client.get(f"{CHANGELIST}{failed_callback.pk}/change/").status_code in (302, 404)
