"""The demo's stand-in platform (`cases.demo_platform`, `manage.py run_fake_platform`): `make run` points the
enforcement endpoint at it, so the demo's decisions are delivered, signed and verified, over real loopback HTTP.
"""

import io
import threading
import time

import pytest
from django.core.management import call_command

from cases.demo_platform import (
    DEMO_ENDPOINT_NAME,
    PATH,
    active_secret,
    make_server,
    seed_demo_endpoint,
)
from cases.models import Enforcement
from cases.services import outbox, review
from moderation.models import EnforcementEndpoint
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_platform(settings):
    """The fake platform on a free loopback port. Its thread cannot see this test's uncommitted endpoint, so
    `server.secret` stands in for the endpoint's (the test that reads it from the database commits)."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # make run sets it: the demo platform is on loopback
    lines: list[str] = []
    holder = {"secret": None}
    server = make_server("127.0.0.1", 0, log=lines.append, secret=lambda: holder["secret"] or active_secret())
    server.holder = holder
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    server.lines = lines
    yield server
    server.shutdown()
    server.server_close()


def post(url: str, *, secret: str, timestamp: int | None = None) -> int:
    """A signed POST as the app sends it (status only)."""
    body = outbox.canonical_body({"type": "enforcement.apply", "id": "enf_1_apply"})
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": "application/json",
        "X-Moderation-Timestamp": str(timestamp),
        "X-Moderation-Signature": outbox.sign(secret, timestamp, body),
        "Idempotency-Key": "enf_1_apply",
    }
    from moderation import outbound

    try:
        return outbound.request("POST", url + PATH, headers=headers, data=body, timeout=5).status
    except outbound.OutboundError as error:
        return error.status


def test_seed_demo_makes_the_fake_platform_the_active_endpoint_and_keeps_its_secret_on_re_runs():
    out = io.StringIO()
    call_command("seed_demo", "--reports", "0", "--platform-url", "http://127.0.0.1:8001/", stdout=out)
    endpoint = EnforcementEndpoint.objects.get(is_active=True)
    assert endpoint.url == "http://127.0.0.1:8001/enforcement"
    assert len(endpoint.secret) >= 32
    assert "Enforcement webhooks go to http://127.0.0.1:8001/enforcement" in out.getvalue()

    call_command(
        "seed_demo", "--reports", "0", "--platform-url", "http://127.0.0.1:8002", stdout=io.StringIO()
    )
    again = EnforcementEndpoint.objects.get(is_active=True)
    assert (again.pk, again.secret, again.url) == (
        endpoint.pk,
        endpoint.secret,
        "http://127.0.0.1:8002/enforcement",
    )


def test_seed_demo_leaves_an_endpoint_configured_by_hand_alone():
    mine = EnforcementEndpoint.objects.create(
        name="our platform", url="https://platform.example/hook", secret="s" * 40, is_active=True
    )
    call_command(
        "seed_demo", "--reports", "0", "--platform-url", "http://127.0.0.1:8001", stdout=io.StringIO()
    )
    assert list(EnforcementEndpoint.objects.filter(is_active=True)) == [mine]
    assert not EnforcementEndpoint.objects.filter(name=DEMO_ENDPOINT_NAME).exists()


def test_a_demo_decision_is_delivered_to_the_fake_platform(
    demo_platform, review_setup, django_capture_on_commit_callbacks
):
    demo_platform.holder["secret"] = seed_demo_endpoint(url=demo_platform.url + PATH).secret
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"])
    factories.hold(case, review_setup.agent)
    with django_capture_on_commit_callbacks(execute=True):
        decision = review.record_decision(
            case_id=case.pk,
            user=review_setup.agent,
            policy_id=review_setup.policies["harassment"].pk,
            action_id=review_setup.actions["remove"].pk,
            reason="",
            expected_version=None,
        )

    enforcement = Enforcement.objects.get(decision=decision)
    assert enforcement.state == Enforcement.State.DELIVERED
    assert enforcement.last_status == 200
    assert demo_platform.lines == [f"applied enforcement.apply {enforcement.idempotency_key} (200)"]


def test_the_fake_platform_refuses_a_wrong_signature_and_a_stale_timestamp(demo_platform):
    endpoint = seed_demo_endpoint(url=demo_platform.url + PATH)
    demo_platform.holder["secret"] = endpoint.secret

    assert post(demo_platform.url, secret=endpoint.secret) == 200
    assert post(demo_platform.url, secret="not-the-secret-" * 3) == 401
    assert post(demo_platform.url, secret=endpoint.secret, timestamp=int(time.time()) - 3600) == 401


@pytest.mark.django_db(transaction=True)
def test_the_fake_platform_honours_a_secret_changed_in_the_admin_without_a_restart(demo_platform):
    endpoint = seed_demo_endpoint(url=demo_platform.url + PATH)
    old = endpoint.secret
    EnforcementEndpoint.objects.filter(pk=endpoint.pk).update(secret="n" * 64)

    assert post(demo_platform.url, secret=old) == 401
    assert post(demo_platform.url, secret="n" * 64) == 200
