"""Workers that survive: `kill -9` of a worker in the middle of enrichment, a media copy or an enforcement
delivery loses nothing and duplicates nothing, and SIGTERM lets the running task finish first.

Real worker processes on PostgreSQL, on Redis and on RabbitMQ. The slow point is a loopback server (the
vendor, the media host, the platform) that holds the first request until the test has killed the worker
and its pool children (one process group, SIGKILL). A second worker then gets the message again (RabbitMQ
at once, as the connection dropped; Redis after the visibility timeout, short here) and the work completes
exactly once: one signal, one media copy, one delivered enforcement whose every request carried the same
idempotency key. Needs PostgreSQL and TEST_REDIS_URL (and TEST_RABBITMQ_URL); elsewhere it is skipped.
"""

import contextlib
import subprocess
import time

import pytest
from django.db import connection  # noqa: F401 (the skipif condition below reads it)

from cases.demo import png_bytes
from cases.models import Case, Enforcement, MediaFile, Scorer, Signal
from moderation.models import AuditEvent, EnforcementEndpoint
from moderation.taskdefs import enqueue
from tests import factories
from tests.cases.test_enforcement import PATH, SECRET
from tests.cases.test_enforcement_worker import decide_remove
from tests.celery_worker import (
    BROKERS,
    REDIS_URL,  # noqa: F401 (the skipif condition reads it)
    HoldingServer,
    Worker,
    broker_url,
    new_prefix,
    pending_messages,
    sending_to,
    wait_for,
)

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql' or not REDIS_URL",
        reason="needs PostgreSQL and TEST_REDIS_URL (a real broker)",
    ),
]

PNG = png_bytes(16, 8, (200, 30, 30))
# The second worker takes over a dead one's unacked Redis messages this soon (7200 s in production).
TAKE_OVER = {"CELERY_VISIBILITY_TIMEOUT": "2", "CELERY_UNACKED_RESTORE_SECONDS": "1"}


class Run:
    """Workers sharing one broker and queue prefix with this test process."""

    def __init__(self, django_db_blocker, broker: str, env: dict[str, str]):
        self.blocker, self.url, self.prefix, self.env = (
            django_db_blocker,
            broker_url(broker),
            new_prefix(),
            env,
        )
        self.workers: list[Worker] = []

    def start(self, **more: str) -> Worker:
        worker = Worker(self.blocker, url=self.url, prefix=self.prefix, concurrency=1, **self.env, **more)
        self.workers.append(worker)
        return worker.start()

    @property
    def output(self) -> list[str]:
        return [line for worker in self.workers for line in worker.lines]


@contextlib.contextmanager
def run(django_db_blocker, broker: str, **env: str):
    crash = Run(django_db_blocker, broker, env)
    with sending_to(crash.url, crash.prefix):
        try:
            yield crash
        finally:
            for worker in crash.workers:
                worker.stop()


@pytest.fixture
def held():
    servers: list[HoldingServer] = []

    def make(**answer) -> HoldingServer:
        servers.append(HoldingServer(**answer))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def kill_mid_task(crash: Run, worker: Worker, server: HoldingServer) -> None:
    """Once the task is inside its call (the server holds it), SIGKILL the worker and its children."""
    if not server.arrived.wait(60):
        pytest.fail("the task never reached the server:\n" + "".join(worker.lines[-40:]))
    worker.kill()
    server.release()  # the held call now finds its caller gone: it is never answered


# Redis for each kind of work (its take-over is the slow path: the visibility timeout); RabbitMQ, which hands
# a dead consumer's messages on at once, for the delivery and the drain (CI time: ~40 s a kill test).
@pytest.mark.parametrize("broker", ["redis"])
def test_a_worker_killed_mid_enrichment_loses_and_duplicates_no_signal(
    broker, django_db_blocker, api, report_body, held
):
    vendor = held(body=b'{"profanity": 0.97}')
    Scorer.objects.create(name="Vendor", kind=Scorer.Kind.HTTP, url=f"{vendor.url}/score", timeout_seconds=20)
    factories.QueueFactory(slug="general", is_default=True)

    with run(django_db_blocker, broker, ENRICHMENT_DEADLINE_SECONDS="30") as crash:
        first = crash.start()
        case_id = api.post("/api/v1/reports", report_body(), format="json").json()["case_id"]
        kill_mid_task(crash, first, vendor)
        assert not Case.objects.filter(pk=case_id, enriched_at__isnull=False).exists()

        crash.start(**TAKE_OVER)
        case = wait_for(
            lambda: Case.objects.filter(
                pk=case_id, enriched_at__isnull=False, routed_at__isnull=False
            ).first(),
            output=crash.output,
        )
        time.sleep(1)  # nothing more arrives

    assert Signal.objects.filter(case=case, source=Signal.Source.SCORER).count() == 1
    assert [len(vendor.received), len(vendor.answered)] == [2, 1]  # asked again, answered once


@pytest.mark.parametrize("broker", ["redis"])
def test_a_worker_killed_mid_media_copy_leaves_one_stored_copy(
    broker, django_db_blocker, api, report_body, held
):
    media = held(body=PNG, content_type="image/png")
    url = f"{media.url}/pictures/1.png"
    body = report_body(subject={"kind": "media", "external_id": "pic-1", "media_urls": [url]})

    with run(django_db_blocker, broker) as crash:
        first = crash.start()
        assert api.post("/api/v1/reports", body, format="json").status_code == 201
        kill_mid_task(crash, first, media)
        assert not MediaFile.objects.filter(url=url).exists()

        crash.start(**TAKE_OVER)
        copy = wait_for(
            lambda: MediaFile.objects.filter(url=url, state=MediaFile.State.STORED).first(),
            output=crash.output,
        )
        time.sleep(1)

    assert MediaFile.objects.filter(url=url).count() == 1
    assert bytes(copy.content) == PNG
    assert [len(media.received), len(media.answered)] == [2, 1]


@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_killed_mid_delivery_delivers_the_enforcement_once_under_one_key(
    broker, django_db_blocker, review_setup, held
):
    platform = held(body=b'{"ok": true}')
    EnforcementEndpoint.objects.create(
        name="platform", url=f"{platform.url}{PATH}", secret=SECRET, timeout_seconds=3
    )
    # The dead worker's claim runs out after its 3 s timeout + 1 s; the sweeper then sends the row again.
    env = {"OUTBOX_CLAIM_MARGIN_SECONDS": "1", "ENFORCEMENT_STALE_SECONDS": "1"}

    with run(django_db_blocker, broker, **env) as crash:
        first = crash.start()
        enforcement = decide_remove(review_setup)
        kill_mid_task(crash, first, platform)

        crash.start(**TAKE_OVER)

        def delivered():
            enqueue("cases.sweep_outbox")  # as beat does every minute
            return Enforcement.objects.filter(pk=enforcement.pk, state="delivered").first()

        done = wait_for(delivered, interval=1.0, output=crash.output)
        time.sleep(1.5)

    assert {record["headers"]["Idempotency-Key"] for record in platform.received} == {
        enforcement.idempotency_key
    }
    assert len(platform.received) >= 2 and len(platform.answered) == 1
    assert (done.attempts, done.last_status) == (1, 200)
    assert AuditEvent.objects.filter(verb="enforcement.delivered", target_id=str(enforcement.pk)).count() == 1


@pytest.mark.parametrize("broker", BROKERS)
def test_sigterm_lets_the_running_task_finish_and_be_acked_then_the_worker_exits_0(
    broker, django_db_blocker, api, report_body, held
):
    vendor = held(body=b'{"profanity": 0.97}')
    Scorer.objects.create(name="Vendor", kind=Scorer.Kind.HTTP, url=f"{vendor.url}/score", timeout_seconds=20)
    factories.QueueFactory(slug="general", is_default=True)

    with run(django_db_blocker, broker, ENRICHMENT_DEADLINE_SECONDS="30") as crash:
        worker = crash.start()
        case_id = api.post("/api/v1/reports", report_body(), format="json").json()["case_id"]
        assert vendor.arrived.wait(60)

        worker.terminate()
        with pytest.raises(subprocess.TimeoutExpired):
            worker.wait(2)  # draining: still up while its task waits on the vendor
        vendor.release()

        assert worker.wait(60) == 0
        assert pending_messages(crash.url, crash.prefix) == 0  # acked, not handed back for a rerun

    case = Case.objects.get(pk=case_id)
    assert case.enriched_at is not None and case.routed_at is not None
    assert Signal.objects.filter(case=case, source=Signal.Source.SCORER).count() == 1
    assert [len(vendor.received), len(vendor.answered)] == [1, 1]
