"""Enforcement: live decisions delivered to the platform as signed webhooks (`cases.services.enforcement`
creates them, `cases.services.outbox` delivers them), the lead's retry (case page, admin) and the endpoint
admin. What is the same for vendor callbacks (claims, the sweeper, the broker down) is in test_outbox.py.

The platform is a real HTTP server on loopback (`tests.webhooks.Receiver`) that checks every request the way
docs/webhooks.md tells platforms to. A platform that is down is a loopback port nobody listens on (yet).
Nothing in the HTTP path is mocked.

Celery runs eagerly here (no broker), so a task sent on commit runs at once and makes one, final attempt.
Retries with attempts left are driven through the outbox (`attempt`) or through the task with a stand-in
broker that holds what is sent (`held_tasks`) and runs it as a worker would.
"""

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from cases import tasks
from cases.models import Decision, Enforcement
from cases.services import outbox, review
from cases.services.enforcement import create_enforcement
from cases.services.outbox import canonical_body, sign
from moderation.admin import EnforcementEndpointForm
from moderation.models import Action, AuditEvent, EnforcementEndpoint, Policy
from queues.models import RoutingRule
from queues.services import route_case
from tests import factories
from tests.webhooks import LoopbackServers, Receiver, backoff_passes, hold_task

pytestmark = pytest.mark.django_db

SECRET = "whsec-" + "3f9c1a7e" * 6  # 54 characters, as `openssl rand -hex` would give
PATH = "/platform/enforcements"
HX = {"HTTP_HX_REQUEST": "true"}


def Platform() -> Receiver:
    """The platform's enforcement endpoint: a receiver holding the endpoint's secret."""
    return Receiver(SECRET)


@pytest.fixture
def allow_private(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    return settings


def make_endpoint(url: str, **fields) -> EnforcementEndpoint:
    values = {"name": "platform", "url": url, "secret": SECRET, "timeout_seconds": 5.0} | fields
    return EnforcementEndpoint.objects.create(**values)


@pytest.fixture
def platform(httpserver, allow_private):
    """The platform, up, and configured as the active enforcement endpoint."""
    receiver = Platform()
    httpserver.expect_request(PATH, method="POST").respond_with_handler(receiver.handle)
    receiver.endpoint = make_endpoint(f"http://127.0.0.1:{httpserver.port}{PATH}")
    return receiver


@pytest.fixture
def own_platform(allow_private):
    """Build a platform on its own loopback server, configured as the endpoint: `own_platform(up=False)` is
    configured but refuses connections until `.start()`; `threaded=True` answers requests concurrently."""
    servers = LoopbackServers()

    def build(*, up: bool = True, threaded: bool = False) -> Receiver:
        receiver = servers.build(secret=SECRET, path=PATH, up=up, threaded=threaded)
        receiver.endpoint = make_endpoint(receiver.url)
        return receiver

    yield build
    servers.stop()


@pytest.fixture
def platform_down(own_platform):
    return own_platform(up=False)


@pytest.fixture
def held_tasks(monkeypatch):
    return hold_task(monkeypatch, "cases.deliver_enforcement", Enforcement)


def attempt(enforcement: Enforcement) -> outbox.DeliveryOutcome:
    """One attempt, as the worker holding the enforcement makes it once its backoff (if any) is over."""
    backoff_passes(enforcement)
    return outbox.deliver(kind=outbox.ENFORCEMENT, message_id=enforcement.pk)


def retry_enforcement(*, enforcement_id: int, user):
    return outbox.retry(kind=outbox.ENFORCEMENT, message_id=enforcement_id, user=user)


# --- the moderation side ------------------------------------------------------------------------------------


@pytest.fixture
def harassment(review_setup):
    policy = review_setup.policies["harassment"]
    policy.user_facing_text = "Harassing other users is not allowed."
    policy.dsa_category = Policy.DsaCategory.ILLEGAL_OR_HARMFUL_SPEECH
    policy.save()
    return policy


@pytest.fixture
def case(review_setup, harassment):
    """An open, unclaimed harassment case in `general` on a message by `author-9`."""
    return factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=harassment,
        subject__kind="message",
        subject__external_id="msg-123",
        subject__author_id="author-9",
    )


@pytest.fixture
def lead(review_setup):
    """A member of `general` with the permission to retry deliveries."""
    user = factories.UserFactory(username="lena")
    review_setup.queue.members.add(user)
    user.user_permissions.add(retry_permission())
    return user


def retry_permission() -> Permission:
    return Permission.objects.get(content_type__app_label="cases", codename="retry_enforcement")


def decide(case, review_setup, *, action="remove", policy="harassment", reason="", user=None) -> Decision:
    """The agent (alice unless `user`) decides `case`, holding it first as the agent working it does."""
    user = user or review_setup.agent
    factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=review_setup.policies[policy].pk,
        action_id=review_setup.actions[action].pk,
        reason=reason,
        expected_version=None,
    )


def decide_undelivered(case, review_setup, capture, **kwargs) -> Enforcement:
    """Record a decision whose delivery was enqueued on commit but has not run: pending, no attempt."""
    with capture(execute=False) as callbacks:
        decision = decide(case, review_setup, **kwargs)
    assert len(callbacks) == 1  # the delivery, enqueued on commit
    return Enforcement.objects.get(decision=decision)


def make_enforcement(review_setup, *, state="pending", created_ago=0, attempted_ago=None, attempts=0):
    """An enforcement of a `remove` decision on a fresh case, backdated as asked (never delivered here). A
    pending one is due when it was created or last attempted: its task should have run by then."""
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    decision = factories.DecisionFactory(
        case=case, policy=case.policy, action=review_setup.actions["remove"], mode=Decision.Mode.LIVE
    )
    enforcement = create_enforcement(decision=decision)  # its on-commit enqueue never runs in this test
    now = timezone.now()
    Enforcement.objects.filter(pk=enforcement.pk).update(
        state=state,
        attempts=attempts,
        created_at=now - timedelta(seconds=created_ago),
        last_attempt_at=None if attempted_ago is None else now - timedelta(seconds=attempted_ago),
        next_attempt_at=now - timedelta(seconds=created_ago if attempted_ago is None else attempted_ago),
    )
    enforcement.refresh_from_db()
    return enforcement


def audit(verb: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb, **filters).order_by("id"))


def refreshed(enforcement: Enforcement) -> Enforcement:
    enforcement.refresh_from_db()
    return enforcement


def retry_url(case, enforcement) -> str:
    return reverse("cases:retry-enforcement", args=[case.pk, enforcement.pk])


def page(client, case) -> str:
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    return response.content.decode()


# --- a decision is delivered once, signed -------------------------------------------------------------------


def test_a_decision_is_delivered_once_as_a_signed_webhook_the_platform_verifies(
    platform, case, review_setup, harassment, django_capture_on_commit_callbacks
):
    reason = "Beleidigung: «wertlos», übel 🚫"
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup, action="remove", reason=reason)

    enforcement = Enforcement.objects.get(decision=decision)
    assert len(platform.received) == 1
    (received,) = platform.received
    assert received.verified and received.status == 200
    headers = received.headers
    assert headers["X-Moderation-Event"] == "enforcement.apply"
    assert headers["Idempotency-Key"] == enforcement.idempotency_key == f"enf_{decision.pk}_apply"
    assert headers["Content-Type"] == "application/json"
    timestamp = int(headers["X-Moderation-Timestamp"])
    assert abs(time.time() - timestamp) < 60
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256)
    assert headers["X-Moderation-Signature"] == f"v1={expected.hexdigest()}"

    body = received.json()
    assert body["type"] == "enforcement.apply"
    assert body["id"] == enforcement.idempotency_key
    assert body["case_id"] == case.pk
    assert body["reason"] == reason
    assert body["decision"] == {
        "id": decision.pk,
        "action": "remove",
        "enforcement_type": "content.remove",
        "duration_hours": None,
        "expires_at": None,
        "policy": "harassment",
        "dsa_category": "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
        "automated": False,
        "decided_at": body["decision"]["decided_at"],
    }
    assert datetime.fromisoformat(body["decision"]["decided_at"]) == decision.created_at
    assert abs(datetime.fromisoformat(body["created_at"]) - timezone.now()) < timedelta(minutes=1)
    # The content version decided on (the factory subject's only one) and its author.
    assert body["subject"] == {
        "kind": "message",
        "external_id": "msg-123",
        "author_id": "author-9",
        "content_version": 1,
    }
    assert platform.applied == {enforcement.idempotency_key: body}

    enforcement.refresh_from_db()
    assert enforcement.state == Enforcement.State.DELIVERED
    assert enforcement.attempts == 1
    assert enforcement.last_status == 200 and enforcement.last_error == ""
    assert enforcement.delivered_at is not None and enforcement.last_attempt_at is not None
    assert Enforcement.objects.filter(case=case).count() == 1
    (delivered,) = audit("enforcement.delivered", case_id=case.pk)
    assert delivered.actor_type == AuditEvent.ActorType.SYSTEM and delivered.actor_label == "enforcement"
    assert delivered.target_type == "cases.enforcement" and delivered.target_id == str(enforcement.pk)
    assert delivered.data["key"] == enforcement.idempotency_key and delivered.data["status"] == 200
    assert audit("enforcement.failed") == []


def test_the_body_sent_is_the_body_fixed_at_creation_byte_for_byte(
    platform, case, review_setup, django_capture_on_commit_callbacks
):
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)
    fixed = canonical_body(enforcement.payload)

    attempt(enforcement)

    assert platform.received[0].body == fixed
    assert json.loads(fixed)["id"] == enforcement.idempotency_key


def test_the_user_is_told_the_policy_text_when_the_decision_gives_no_reason(
    platform, case, review_setup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup, action="warn", reason="")

    assert platform.received[0].json()["reason"] == "Harassing other users is not allowed."


def test_the_action_kind_is_the_enforcement_type_when_none_is_set_and_suspensions_carry_their_duration(
    platform, review_setup, harassment, django_capture_on_commit_callbacks
):
    suspend = factories.ActionFactory(
        code="suspend-7d", kind=Action.Kind.SUSPEND_TEMPORARY, enforcement_type="", duration_hours=168
    )
    harassment.allowed_actions.add(suspend)
    review_setup.actions["suspend-7d"] = suspend
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=harassment)

    with django_capture_on_commit_callbacks(execute=True):
        decide(case, review_setup, action="suspend-7d")

    decision = platform.received[0].json()["decision"]
    assert decision["enforcement_type"] == "suspend_temporary"
    assert decision["duration_hours"] == 168


def test_sign_is_hmac_sha256_over_timestamp_dot_body():
    body = canonical_body({"b": 1, "a": "é"})
    assert body == '{"a":"é","b":1}'.encode()
    expected = hmac.new(b"k" * 32, b"1795430400." + body, hashlib.sha256).hexdigest()
    assert sign("k" * 32, 1795430400, body) == "v1=" + expected
    assert sign("k" * 32, 1795430401, body) != sign("k" * 32, 1795430400, body)


def test_a_platform_holding_another_secret_refuses_the_signature_and_the_delivery_fails_at_once(
    platform, case, review_setup, django_capture_on_commit_callbacks
):
    platform.secret = "another-secret-" + "x" * 32
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    outcome = attempt(enforcement)

    assert [r.verified for r in platform.received] == [False]
    assert platform.applied == {}
    assert (outcome.state, outcome.retry) == ("failed", False)
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.last_status, enforcement.last_error) == ("failed", 401, "HTTP 401")


def test_deciding_the_same_decision_again_reuses_its_one_enforcement_and_enqueues_once(
    case, review_setup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        decision = decide(case, review_setup)
        again = create_enforcement(decision=decision)

    assert len(callbacks) == 1
    assert Enforcement.objects.filter(decision=decision).count() == 1
    assert again == Enforcement.objects.get(decision=decision)


def test_a_delivered_or_failed_enforcement_is_not_sent_again(platform, review_setup):
    delivered = make_enforcement(review_setup, state="delivered", attempts=1)
    failed = make_enforcement(review_setup, state="failed", attempts=8)

    assert attempt(delivered).state == "delivered"
    assert attempt(failed).state == "failed"
    assert outbox.deliver(kind=outbox.ENFORCEMENT, message_id=10**9).state == "gone"
    assert tasks.deliver_enforcement.apply(args=(delivered.pk,)).get() == "delivered"

    assert platform.received == []
    assert (refreshed(delivered).attempts, refreshed(failed).attempts) == (1, 8)


# --- a platform that is down: retries, failed, a lead's retry -----------------------------------------------


def test_a_platform_that_is_down_is_retried_then_failed_then_a_leads_retry_delivers_the_same_bytes(
    platform_down, case, review_setup, lead, client, settings, django_capture_on_commit_callbacks
):
    settings.ENFORCEMENT_MAX_ATTEMPTS = 3
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)
    key, body = enforcement.idempotency_key, canonical_body(enforcement.payload)

    for number in (1, 2):
        outcome = attempt(enforcement)
        assert (outcome.state, outcome.retry) == ("pending", True)
        enforcement.refresh_from_db()
        assert enforcement.state == Enforcement.State.PENDING
        assert enforcement.attempts == number
        assert enforcement.last_error  # what went wrong, shown to leads (see the test below for its wording)
        assert enforcement.last_status is None and enforcement.last_attempt_at is not None
    assert audit("enforcement.failed") == []

    outcome = attempt(enforcement)

    assert (outcome.state, outcome.retry) == ("failed", False)
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.attempts) == ("failed", 3)
    assert enforcement.delivered_at is None
    (failed,) = audit("enforcement.failed", case_id=case.pk)
    assert failed.data["key"] == key and failed.data["error"] == enforcement.last_error

    platform_down.start()
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(case, enforcement))

    assert response.status_code == 302 and response.url == f"/cases/{case.pk}/"
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.attempts, enforcement.last_error) == ("delivered", 4, "")
    assert [(r.key, r.body, r.verified) for r in platform_down.received] == [(key, body, True)]
    (retried,) = audit("enforcement.retried", case_id=case.pk)
    assert (retried.actor_type, retried.actor_label) == ("user", "lena")
    assert retried.data == {"key": key, "attempts_so_far": 3}
    assert len(audit("enforcement.delivered", case_id=case.pk)) == 1


def test_a_refused_connection_is_recorded_as_refused_not_as_a_timeout(
    platform_down, case, review_setup, django_capture_on_commit_callbacks
):
    """Leads read `last_error` on the case page to tell a platform that is down from one that is slow. urllib3 2
    makes NewConnectionError a subclass of ConnectTimeoutError, and `outbound.request` maps every urllib3
    TimeoutError to OutboundTimeout, so an instantly refused connection reads "no complete answer within 5s"."""
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    outcome = attempt(enforcement)

    assert outcome.retry
    assert "refused" in refreshed(enforcement).last_error.lower()
    assert "within" not in refreshed(enforcement).last_error  # not the timeout's "no complete answer within"
    assert "no complete answer" not in refreshed(enforcement).last_error


def test_every_attempt_and_a_leads_retry_send_the_same_key_and_bytes_and_the_platform_applies_it_once(
    platform, case, review_setup, lead, settings, django_capture_on_commit_callbacks
):
    settings.ENFORCEMENT_MAX_ATTEMPTS = 2
    platform.answer(503, 500)
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    assert attempt(enforcement).state == "pending"
    assert attempt(enforcement).state == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        retried = retry_enforcement(enforcement_id=enforcement.pk, user=lead)
    assert retried is not None and retried.state == Enforcement.State.PENDING

    assert [r.status for r in platform.received] == [503, 500, 200]
    assert all(r.verified for r in platform.received)
    assert {r.key for r in platform.received} == {enforcement.idempotency_key}
    assert {r.body for r in platform.received} == {canonical_body(enforcement.payload)}
    assert list(platform.applied) == [enforcement.idempotency_key]
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.attempts, enforcement.last_status) == ("delivered", 3, 200)


def test_an_answer_lost_after_the_platform_applied_it_is_retried_with_the_same_key(
    own_platform, case, review_setup, django_capture_on_commit_callbacks
):
    platform = own_platform(threaded=True)
    platform.endpoint.timeout_seconds = 0.4
    platform.endpoint.save()
    platform.stall_next = 1.0  # applies, then answers too late
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    first = attempt(enforcement)
    assert (first.state, first.retry) == ("pending", True)
    assert "0.4" in refreshed(enforcement).last_error
    second = attempt(enforcement)

    assert second.state == "delivered"
    assert [r.key for r in platform.received] == [enforcement.idempotency_key] * 2
    assert len(platform.applied) == 1  # the platform deduplicated on the key: applied once


def test_the_task_retries_with_growing_backoff_and_fails_on_the_last_attempt(
    platform, case, review_setup, settings, held_tasks, django_capture_on_commit_callbacks
):
    settings.ENFORCEMENT_MAX_ATTEMPTS = 3
    settings.ENFORCEMENT_RETRY_BASE_SECONDS = 10
    platform.answer(503, 429, 502)
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    enforcement = Enforcement.objects.get(decision=decision)
    assert held_tasks.sent == [((enforcement.pk,), None)]  # enqueued on commit

    assert held_tasks.run_next() == "pending"
    [((pk,), countdown)] = held_tasks.sent
    assert pk == enforcement.pk and 5 <= countdown <= 10
    assert_due_in(refreshed(enforcement), countdown)
    assert held_tasks.run_next() == "pending"
    [((pk,), countdown)] = held_tasks.sent
    assert pk == enforcement.pk and 10 <= countdown <= 20
    assert_due_in(refreshed(enforcement), countdown)
    assert held_tasks.run_next() == "failed"

    assert held_tasks.sent == []
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.attempts, enforcement.last_status) == ("failed", 3, 502)
    assert len(audit("enforcement.failed", case_id=case.pk)) == 1
    assert len(platform.received) == 3


def assert_due_in(enforcement: Enforcement, countdown: float) -> None:
    """The row says when its retry is due: the countdown after its last attempt (the sweeper reads it)."""
    assert enforcement.next_attempt_at - enforcement.last_attempt_at == pytest.approx(
        timedelta(seconds=countdown), abs=timedelta(seconds=1)
    )


def test_without_a_broker_the_one_eager_attempt_is_final_and_a_failure_shows_at_once(
    platform, case, review_setup, django_capture_on_commit_callbacks
):
    platform.answer(503)
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)

    enforcement = Enforcement.objects.get(decision=decision)
    assert (enforcement.state, enforcement.attempts, enforcement.last_status) == ("failed", 1, 503)
    assert len(platform.received) == 1


def test_a_loopback_endpoint_is_refused_unless_private_networks_are_allowed(
    platform, case, review_setup, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    outcome = attempt(enforcement)

    assert (outcome.state, outcome.retry) == ("failed", False)
    assert "non-public" in refreshed(enforcement).last_error
    assert platform.received == []


# --- answers: what is retried, what is not ------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 302])
def test_a_refusal_fails_at_once_and_is_not_retried(
    status, platform, case, review_setup, held_tasks, django_capture_on_commit_callbacks
):
    platform.answer(status)
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    assert held_tasks.run(enforcement.pk) == "failed"

    assert held_tasks.sent == []
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.attempts) == ("failed", 1)
    assert (enforcement.last_status, enforcement.last_error) == (status, f"HTTP {status}")
    assert audit("enforcement.failed", case_id=case.pk)[0].data["status"] == status
    assert len(platform.received) == 1  # a redirect is not followed either


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_a_transient_failure_stays_pending_for_a_retry_unless_it_was_the_last_attempt(
    status, platform, case, review_setup, settings, held_tasks, django_capture_on_commit_callbacks
):
    settings.ENFORCEMENT_MAX_ATTEMPTS = 2
    platform.answer(status, status)
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    assert held_tasks.run(enforcement.pk) == "pending"
    assert [args for args, _ in held_tasks.sent] == [(enforcement.pk,)]
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.last_status) == ("pending", status)
    assert enforcement.last_error == f"HTTP {status}"
    assert audit("enforcement.failed") == []

    outcome = attempt(enforcement)

    assert (outcome.state, outcome.retry) == ("failed", False)
    assert (refreshed(enforcement).state, refreshed(enforcement).attempts) == ("failed", 2)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_answer_is_a_delivery(
    status, platform, case, review_setup, held_tasks, django_capture_on_commit_callbacks
):
    platform.answer(status)
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    assert held_tasks.run(enforcement.pk) == "delivered"

    assert held_tasks.sent == []
    enforcement.refresh_from_db()
    assert (enforcement.state, enforcement.last_status, enforcement.last_error) == ("delivered", status, "")


# --- no endpoint configured ---------------------------------------------------------------------------------


def test_without_an_active_endpoint_the_enforcement_fails_clearly_and_a_retry_after_configuring_delivers(
    httpserver, allow_private, case, review_setup, lead, django_capture_on_commit_callbacks
):
    make_endpoint(f"http://127.0.0.1:{httpserver.port}{PATH}", name="old", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)

    enforcement = Enforcement.objects.get(decision=decision)
    assert enforcement.state == Enforcement.State.FAILED
    assert "No active enforcement endpoint is configured" in enforcement.last_error
    assert enforcement.last_status is None
    (failed,) = audit("enforcement.failed", case_id=case.pk)
    assert "No active enforcement endpoint" in failed.data["error"]
    assert httpserver.log == []

    receiver = Platform()
    httpserver.expect_request(PATH, method="POST").respond_with_handler(receiver.handle)
    EnforcementEndpoint.objects.filter(name="old").update(is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_enforcement(enforcement_id=enforcement.pk, user=lead) is not None

    assert refreshed(enforcement).state == Enforcement.State.DELIVERED
    assert [r.key for r in receiver.received] == [enforcement.idempotency_key]


def test_a_missing_endpoint_is_not_retried_while_attempts_remain(
    case, review_setup, django_capture_on_commit_callbacks
):
    enforcement = decide_undelivered(case, review_setup, django_capture_on_commit_callbacks)

    outcome = attempt(enforcement)

    assert (outcome.state, outcome.retry) == ("failed", False)
    assert "admin → Enforcement endpoints" in outcome.error


# --- which decisions are enforced ---------------------------------------------------------------------------


def test_a_no_violation_decision_sends_nothing(
    platform, case, review_setup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        decision = decide(case, review_setup, action="no-violation")

    assert callbacks == []
    assert not Enforcement.objects.filter(decision=decision).exists()
    assert platform.received == []


def test_shadow_and_escalation_decisions_are_not_enforced(review_setup):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    shadow = factories.DecisionFactory(
        case=case, action=review_setup.actions["remove"], mode=Decision.Mode.SHADOW, automated=True
    )
    escalation = factories.DecisionFactory(case=case, action=review_setup.actions["escalate"])

    assert create_enforcement(decision=shadow) is None
    assert create_enforcement(decision=escalation) is None
    assert not Enforcement.objects.exists()


def automation_rule(review_setup, *, mode: str, action: str = "remove") -> RoutingRule:
    rule = factories.RoutingRuleFactory(
        name="known spam hash",
        automation_mode=mode,
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions[action],
    )
    factories.ScoreConditionFactory(rule=rule, label="spam-hash", operator="gte", threshold=0.9)
    return rule


def spam_case(review_setup):
    case = factories.CaseFactory(
        policy=review_setup.policies["spam"], subject__external_id="post-9", subject__kind="post"
    )
    factories.SignalFactory(case=case, label="spam-hash", score=0.99)
    return case


def test_a_live_automated_routing_decision_is_enforced(
    platform, review_setup, django_capture_on_commit_callbacks
):
    automation_rule(review_setup, mode=RoutingRule.AutomationMode.LIVE)
    case = spam_case(review_setup)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = route_case(case_id=case.pk)

    assert outcome.auto_decided
    decision = Decision.objects.get(case=case, mode=Decision.Mode.LIVE)
    enforcement = Enforcement.objects.get(decision=decision)
    assert enforcement.state == Enforcement.State.DELIVERED
    (received,) = platform.received
    body = received.json()
    assert received.verified and received.key == enforcement.idempotency_key
    assert body["decision"]["automated"] is True
    assert (body["decision"]["action"], body["decision"]["policy"]) == ("remove", "spam")
    assert body["subject"]["external_id"] == "post-9"
    assert body["reason"] == "Automatic: rule 'known spam hash'."


def test_a_shadow_routing_decision_is_recorded_but_not_enforced(
    platform, review_setup, django_capture_on_commit_callbacks
):
    automation_rule(review_setup, mode=RoutingRule.AutomationMode.SHADOW)
    case = spam_case(review_setup)

    with django_capture_on_commit_callbacks(execute=True):
        route_case(case_id=case.pk)

    assert Decision.objects.filter(case=case, mode=Decision.Mode.SHADOW).count() == 1
    assert not Enforcement.objects.exists()
    assert platform.received == []


def test_an_automated_escalation_is_not_enforced(platform, review_setup, django_capture_on_commit_callbacks):
    automation_rule(review_setup, mode=RoutingRule.AutomationMode.LIVE, action="escalate")
    case = spam_case(review_setup)

    with django_capture_on_commit_callbacks(execute=True):
        route_case(case_id=case.pk)

    assert Decision.objects.filter(case=case, mode=Decision.Mode.LIVE).exists()
    assert not Enforcement.objects.exists()
    assert platform.received == []


# --- the case page and the retry view -----------------------------------------------------------------------


@pytest.fixture
def failed_enforcement(platform, case, review_setup, django_capture_on_commit_callbacks):
    """The case decided while the platform answered 500 once: failed after the one eager attempt."""
    platform.answer(500)
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    enforcement = Enforcement.objects.get(decision=decision)
    assert enforcement.state == Enforcement.State.FAILED
    return enforcement


def test_the_case_page_shows_the_delivery_state_and_a_retry_button_only_to_leads(
    failed_enforcement, case, lead, review_setup, client
):
    button = f'action="{retry_url(case, failed_enforcement)}"'

    client.force_login(review_setup.agent)
    agent_page = page(client, case)
    client.force_login(lead)
    lead_page = page(client, case)

    for html in (agent_page, lead_page):
        assert 'id="enforcements"' in html
        assert failed_enforcement.idempotency_key in html
        assert "Failed" in html and "HTTP 500" in html
    assert button not in agent_page
    assert button in lead_page and ">Retry</button>" in lead_page


def test_a_delivered_enforcement_shows_as_delivered_without_a_retry_button(
    platform, case, review_setup, lead, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    enforcement = Enforcement.objects.get(decision=decision)

    client.force_login(lead)
    html = page(client, case)

    assert "Delivered" in html and enforcement.idempotency_key in html
    assert retry_url(case, enforcement) not in html


def test_an_agent_without_the_permission_cannot_retry(
    failed_enforcement, platform, case, review_setup, client, django_capture_on_commit_callbacks
):
    client.force_login(review_setup.agent)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(retry_url(case, failed_enforcement), **HX)

    assert response.status_code == 403
    assert callbacks == []
    assert refreshed(failed_enforcement).state == Enforcement.State.FAILED
    assert audit("enforcement.retried") == []
    assert len(platform.received) == 1


def test_a_leads_htmx_retry_queues_the_delivery_and_swaps_the_enforcement_table(
    failed_enforcement, platform, case, lead, client, django_capture_on_commit_callbacks
):
    client.force_login(lead)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(case, failed_enforcement), **HX)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="enforcements"')
    assert "Pending" in html  # rendered before the delivery ran on commit
    assert json.loads(response["HX-Trigger"])["toast"] == {
        "message": "Delivery queued again.",
        "level": "success",
    }
    assert refreshed(failed_enforcement).state == Enforcement.State.DELIVERED
    assert [r.status for r in platform.received] == [500, 200]


def test_retrying_an_enforcement_that_has_not_failed_does_nothing(
    platform, case, review_setup, lead, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    delivered = Enforcement.objects.get(decision=decision)
    client.force_login(lead)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(retry_url(case, delivered), **HX)
        assert retry_enforcement(enforcement_id=delivered.pk, user=lead) is None

    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"])["toast"] == {"message": "Nothing to retry.", "level": "info"}
    assert callbacks == []
    assert (refreshed(delivered).state, refreshed(delivered).attempts) == ("delivered", 1)
    assert audit("enforcement.retried") == []
    assert len(platform.received) == 1


def test_an_enforcement_of_another_case_is_not_found(
    failed_enforcement, case, review_setup, lead, client, django_capture_on_commit_callbacks
):
    other_case = factories.OpenCaseFactory(queue=review_setup.queue, policy=case.policy)
    client.force_login(lead)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(other_case, failed_enforcement))

    assert response.status_code == 404
    assert refreshed(failed_enforcement).state == Enforcement.State.FAILED
    assert audit("enforcement.retried") == []


def test_a_lead_who_cannot_see_the_case_gets_not_found(failed_enforcement, case, client):
    outsider = factories.UserFactory(username="olga")
    outsider.user_permissions.add(retry_permission())
    client.force_login(outsider)

    response = client.post(retry_url(case, failed_enforcement))

    assert response.status_code == 404
    assert refreshed(failed_enforcement).state == Enforcement.State.FAILED


def test_retry_is_post_only_and_needs_a_login(failed_enforcement, case, lead, client):
    assert client.post(retry_url(case, failed_enforcement)).status_code == 302  # to the login page
    client.force_login(lead)
    assert client.get(retry_url(case, failed_enforcement)).status_code == 405
    assert refreshed(failed_enforcement).state == Enforcement.State.FAILED


# --- the sweeper --------------------------------------------------------------------------------------------


def test_the_sweeper_sends_stale_pending_enforcements_again_and_leaves_the_rest(
    platform, review_setup, settings
):
    settings.ENFORCEMENT_STALE_SECONDS = 600
    never_tried = make_enforcement(review_setup, created_ago=3600)
    tried_long_ago = make_enforcement(review_setup, created_ago=7200, attempted_ago=900, attempts=2)
    fresh = make_enforcement(review_setup, created_ago=60)
    tried_recently = make_enforcement(review_setup, created_ago=7200, attempted_ago=60, attempts=3)
    delivered = make_enforcement(review_setup, state="delivered", created_ago=7200, attempted_ago=7200)
    failed = make_enforcement(review_setup, state="failed", created_ago=7200, attempted_ago=7200, attempts=8)

    assert tasks.sweep_outbox.run() == 2

    assert sorted(r.key for r in platform.received) == sorted(
        [never_tried.idempotency_key, tried_long_ago.idempotency_key]
    )
    assert (refreshed(never_tried).state, refreshed(tried_long_ago).state) == ("delivered", "delivered")
    assert (refreshed(fresh).state, refreshed(fresh).attempts) == ("pending", 0)
    assert (refreshed(tried_recently).state, refreshed(tried_recently).attempts) == ("pending", 3)
    assert refreshed(delivered).attempts == 0 and refreshed(failed).attempts == 8
    assert (refreshed(delivered).state, refreshed(failed).state) == ("delivered", "failed")


def test_the_sweeper_enqueues_only_stale_pending_ones_and_then_leaves_them_to_their_task(
    review_setup, settings, held_tasks
):
    settings.ENFORCEMENT_STALE_SECONDS = 600
    stale = make_enforcement(review_setup, created_ago=3600)
    make_enforcement(review_setup, created_ago=10)
    make_enforcement(review_setup, state="failed", created_ago=3600)

    assert tasks.sweep_outbox.run() == 1
    assert held_tasks.sent == [((stale.pk,), None)]
    # The task it sent holds the row now: the next sweeps send nothing more until it is stale again.
    assert tasks.sweep_outbox.run() == 0
    assert held_tasks.sent == [((stale.pk,), None)]


def test_an_enforcement_waiting_for_its_scheduled_retry_is_not_sent_again_by_the_sweeper(
    platform, case, review_setup, settings, held_tasks, django_capture_on_commit_callbacks
):
    """With the default settings (8 attempts, backoff from 30 s doubling to a 1 h cap, sweeper after 900 s),
    the wait before the last attempts is longer than the sweeper's stale window: a sweeper that took an
    enforcement merely waiting out its backoff for a lost one would start a second retry chain next to the
    scheduled one. Once that retry is overdue by the stale window (its task lost), the sweeper sends it, as
    the last attempt: the sweeper never grants more than ENFORCEMENT_MAX_ATTEMPTS in all."""
    platform.answer(*[503] * settings.ENFORCEMENT_MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=True):
        decision = decide(case, review_setup)
    enforcement = Enforcement.objects.get(decision=decision)

    for _ in range(settings.ENFORCEMENT_MAX_ATTEMPTS - 1):
        assert held_tasks.run_next() == "pending"
    [((pk,), countdown)] = held_tasks.sent
    assert refreshed(enforcement).attempts == settings.ENFORCEMENT_MAX_ATTEMPTS - 1
    assert countdown > settings.ENFORCEMENT_STALE_SECONDS
    # One second before that last retry is due:
    Enforcement.objects.filter(pk=pk).update(
        last_attempt_at=F("last_attempt_at") - timedelta(seconds=countdown - 1),
        next_attempt_at=timezone.now() + timedelta(seconds=1),
    )

    assert tasks.sweep_outbox.run() == 0
    assert held_tasks.sent == [((pk,), countdown)]

    held_tasks.sent.clear()  # the broker lost it
    Enforcement.objects.filter(pk=pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=settings.ENFORCEMENT_STALE_SECONDS + 1)
    )
    assert tasks.sweep_outbox.run() == 1
    assert held_tasks.run_next() == "failed"
    assert (refreshed(enforcement).attempts, held_tasks.sent) == (settings.ENFORCEMENT_MAX_ATTEMPTS, [])
    assert len(platform.received) == settings.ENFORCEMENT_MAX_ATTEMPTS


# --- the admin ----------------------------------------------------------------------------------------------

ENDPOINT_ADD_URL = "/admin/moderation/enforcementendpoint/add/"
ENFORCEMENT_CHANGELIST_URL = "/admin/cases/enforcement/"


def endpoint_change_url(endpoint) -> str:
    return f"/admin/moderation/enforcementendpoint/{endpoint.pk}/change/"


def endpoint_form_data(**overrides) -> dict:
    data = {
        "name": "Platform",
        "url": "https://platform.example/moderation/enforcements",
        "secret": SECRET,
        "is_active": "on",
        "timeout_seconds": "10",
    }
    data.update(overrides)
    return data


def test_an_endpoint_added_in_the_admin_never_shows_its_secret_again(admin_client):
    response = admin_client.post(ENDPOINT_ADD_URL, endpoint_form_data())

    assert response.status_code == 302
    endpoint = EnforcementEndpoint.objects.get()
    assert endpoint.secret == SECRET
    change_page = admin_client.get(endpoint_change_url(endpoint))
    assert change_page.status_code == 200
    assert SECRET not in change_page.content.decode()
    assert 'type="password"' in change_page.content.decode()
    assert SECRET not in admin_client.get("/admin/moderation/enforcementendpoint/").content.decode()
    for event in AuditEvent.objects.all():
        assert SECRET not in json.dumps(event.data)


def test_an_empty_secret_on_edit_keeps_the_current_one(admin_client):
    endpoint = make_endpoint("https://platform.example/hook")

    response = admin_client.post(
        endpoint_change_url(endpoint), endpoint_form_data(name="Renamed", secret="", timeout_seconds="7")
    )

    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.timeout_seconds, endpoint.secret) == ("Renamed", 7.0, SECRET)


def test_keeping_the_secret_is_not_audited_as_changing_it(admin_client):
    """The audit log is where a secret rotation is traced. The form's `secret` field starts from the stored
    secret (ModelForm initial) and is posted empty to keep it, so Django counts it as changed on every save."""
    endpoint = make_endpoint("https://platform.example/hook", timeout_seconds=10.0)

    response = admin_client.post(
        endpoint_change_url(endpoint),
        endpoint_form_data(name="Renamed", url=endpoint.url, secret=""),
    )

    assert response.status_code == 302 and refreshed_endpoint(endpoint).secret == SECRET
    (changed,) = audit("admin.changed", target_type="moderation.enforcementendpoint")
    assert "name" in changed.data["change"].lower()
    assert "secret" not in changed.data["change"].lower(), changed.data["change"]


def test_a_new_secret_on_edit_replaces_the_old_one(admin_client):
    endpoint = make_endpoint("https://platform.example/hook")
    rotated = "rotated-" + "a1" * 20

    response = admin_client.post(endpoint_change_url(endpoint), endpoint_form_data(secret=rotated))

    assert response.status_code == 302
    assert refreshed_endpoint(endpoint).secret == rotated
    (changed,) = audit("admin.changed", target_type="moderation.enforcementendpoint")
    assert "secret" in changed.data["change"].lower() and rotated not in changed.data["change"]
    assert rotated not in admin_client.get(endpoint_change_url(endpoint)).content.decode()


def refreshed_endpoint(endpoint):
    endpoint.refresh_from_db()
    return endpoint


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_a_secret_under_32_characters_is_refused(admin_client, secret):
    response = admin_client.post(ENDPOINT_ADD_URL, endpoint_form_data(secret=secret))

    assert response.status_code == 200
    assert "at least 32 characters" in response.content.decode()
    assert not EnforcementEndpoint.objects.exists()

    endpoint = make_endpoint("https://platform.example/hook")
    form = EnforcementEndpointForm(data=endpoint_form_data(secret=secret), instance=endpoint)
    assert not form.is_valid()
    assert "secret" in form.errors
    assert refreshed_endpoint(endpoint).secret == SECRET


def test_an_endpoint_needs_a_secret_and_an_http_url():
    form = EnforcementEndpointForm(data=endpoint_form_data(secret="", url="ftp://platform.example/x"))

    assert not form.is_valid()
    assert {"secret", "url"} <= set(form.errors)


def test_a_32_character_secret_is_accepted():
    form = EnforcementEndpointForm(data=endpoint_form_data(secret="y" * 32))

    assert form.is_valid(), form.errors
    assert form.save().secret == "y" * 32


def staff_user(username: str, *codenames: str):
    user = factories.UserFactory(username=username, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="cases", codename__in=codenames)
    )
    return user


def admin_retry(client, enforcements):
    return client.post(
        ENFORCEMENT_CHANGELIST_URL,
        {
            "action": "retry_failed",
            "_selected_action": [str(e.pk) for e in enforcements],
            "index": "0",
            "select_across": "0",
        },
        follow=True,
    )


def test_the_admin_retry_action_retries_the_failed_ones_for_a_lead(
    platform, review_setup, client, django_capture_on_commit_callbacks
):
    failed = make_enforcement(review_setup, state="failed", attempts=8)
    delivered = make_enforcement(review_setup, state="delivered", attempts=1)
    pending = make_enforcement(review_setup, state="pending", attempts=2)
    lead = staff_user("lead", "view_enforcement", "retry_enforcement")
    review_setup.queue.members.add(lead)  # the admin lists only enforcements of cases the lead may see
    client.force_login(lead)
    assert "retry_failed" in client.get(ENFORCEMENT_CHANGELIST_URL).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_retry(client, [failed, delivered, pending])

    assert "1 delivery queued again." in [str(m) for m in response.context["messages"]]
    assert refreshed(failed).state == Enforcement.State.DELIVERED
    assert [r.key for r in platform.received] == [failed.idempotency_key]
    assert (refreshed(delivered).state, refreshed(pending).state) == ("delivered", "pending")
    assert len(audit("enforcement.retried")) == 1


def test_the_admin_retry_action_is_not_offered_to_staff_without_the_permission(
    platform, review_setup, client, django_capture_on_commit_callbacks
):
    failed = make_enforcement(review_setup, state="failed", attempts=8)
    client.force_login(staff_user("viewer", "view_enforcement"))
    changelist = client.get(ENFORCEMENT_CHANGELIST_URL)
    assert changelist.status_code == 200
    assert "retry_failed" not in changelist.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        admin_retry(client, [failed])

    assert refreshed(failed).state == Enforcement.State.FAILED
    assert audit("enforcement.retried") == []
    assert platform.received == []
