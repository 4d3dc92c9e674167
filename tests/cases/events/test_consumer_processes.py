"""consume_events as real processes on PostgreSQL and the real NATS server: `kill -9` in the middle of a batch
loses and duplicates nothing once a second consumer takes over; SIGTERM finishes the batch in hand and exits.

The processes share this test's database, so the module needs PostgreSQL (CI runs it; elsewhere it is
skipped, like the other multi-process tests)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from cases.models import Case, Event, Report
from tests.cases.events.world import event_body

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="consumer processes share the database"),
]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Consumer:
    """A `manage.py consume_events` process and its output."""

    def __init__(self, stream, vendor, **options):
        env = dict(
            os.environ, DATABASE_URL=_database_url(), CONFIG_CACHE_SECONDS="0", BANK_RELOAD_SECONDS="0"
        )
        env.update(SECRET_KEY="test-consumer", PYTHONPATH=str(ROOT))
        argv = [
            sys.executable,
            "manage.py",
            "consume_events",
            "--source",
            vendor.slug,
            *stream.argv(**options),
        ]
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self.started = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.started.wait(60):
            self.process.kill()
            pytest.fail("consumer did not start:\n" + "".join(self.lines))

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("consuming "):
                self.started.set()

    def wait(self, timeout=120) -> str:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("consumer did not finish:\n" + "".join(self.lines))
        time.sleep(0.2)  # the reader thread catches the last lines
        return "".join(self.lines)


def until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("condition not met in time")


def published(stream, count):
    """`count` events, every other one a scam message (a rule opens a case for it): 1 author per event."""
    stream.publish(
        *(
            event_body(f"e{n}", author=f"user-{n}", text="free crypto now" if n % 2 else "nice photo")
            for n in range(count)
        )
    )


def test_kill_9_mid_batch_loses_and_duplicates_nothing_after_a_second_consumer_takes_over(
    stream, vendor, world
):
    published(stream, 60)
    # The first consumer commits a batch of 20, then holds its acks for a while: it is killed right there.
    first = Consumer(stream, vendor, batch=20, ack_wait=2, pause_before_ack=30)
    until(lambda: Event.objects.count() >= 20)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    assert first.process.returncode == -signal.SIGKILL
    assert stream.consumer()["ack_pending"] == 20  # stored, never acked

    second = Consumer(stream, vendor, batch=20, ack_wait=2, max_messages=60)
    output = second.wait()

    assert "created 40, duplicate 20, dead-lettered 0" in output, output
    assert stream.consumer() == {"pending": 0, "ack_pending": 0}
    assert Event.objects.count() == 60
    assert Case.objects.count() == 30 and Report.objects.count() == 30
    assert set(Event.objects.filter(case__isnull=False).values_list("external_id", flat=True)) == {
        f"e{n}" for n in range(1, 60, 2)
    }


def test_sigterm_finishes_the_batch_in_hand_acks_it_and_exits(stream, vendor, world):
    published(stream, 50)
    first = Consumer(stream, vendor, batch=10, ack_wait=30, pause_before_ack=2)
    until(lambda: Event.objects.count() >= 10)  # the first batch is committed, its acks are held
    first.process.send_signal(signal.SIGTERM)
    output = first.wait(30)

    assert first.process.returncode == 0, output
    assert "(stopped by signal)" in output
    stored = Event.objects.count()
    assert stored % 10 == 0 and stored < 50
    # Everything stored was acked: nothing waits for redelivery, the rest is still in the stream.
    assert stream.consumer() == {"pending": 50 - stored, "ack_pending": 0}

    rest = Consumer(stream, vendor, batch=10, once=True).wait()
    assert f"created {50 - stored}, duplicate 0" in rest, rest
    assert Event.objects.count() == 50 and Case.objects.count() == 25
