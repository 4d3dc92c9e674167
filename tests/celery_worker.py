"""Real Celery worker processes for tests, on Redis or RabbitMQ, and loopback servers that hold a request.

Each worker serves queues under a prefix of its own (`CELERY_QUEUE_PREFIX`), so parallel test processes and
runs on one broker (one Redis database, one RabbitMQ vhost) never take each other's tasks; a test points its
own task sends at the same broker and prefix. The brokers: TEST_REDIS_URL and TEST_RABBITMQ_URL (an `amqp://`
URL with a vhost of its own; `.ci/run` creates one).
"""

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from moderation.celery import app
from moderation.task_queues import broker_names

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "")

# Fixture params: every real-worker test module runs on Redis; the key ones on RabbitMQ as well.
ON_RABBITMQ = pytest.param(
    "rabbitmq",
    marks=pytest.mark.skipif(not RABBITMQ_URL, reason="needs TEST_RABBITMQ_URL (a RabbitMQ vhost)"),
)
BROKERS = ["redis", ON_RABBITMQ]


def broker_url(broker: str = "redis") -> str:
    return {"redis": REDIS_URL, "rabbitmq": RABBITMQ_URL}[broker]


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def new_prefix() -> str:
    return f"t{os.getpid()}{uuid.uuid4().hex[:6]}-"


def forget_broker_connections() -> None:
    # Celery caches its connection and producer pools on first use; earlier tests in this process may have
    # created them for another broker URL. This is the reset Celery itself does after a fork.
    app._after_fork()


@contextlib.contextmanager
def sending_to(url: str, prefix: str):
    """This test process sends its tasks to `url` under `prefix` instead of running them in-process."""
    previous = (app.conf.task_always_eager, app.conf.broker_url, app.conf.queue_prefix)
    app.conf.task_always_eager, app.conf.broker_url, app.conf.queue_prefix = False, url, prefix
    forget_broker_connections()
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.broker_url, app.conf.queue_prefix = previous
        forget_broker_connections()
        _delete_queues(url, prefix)


def _delete_queues(url: str, prefix: str) -> None:
    """A run's own queues go when it ends, with any countdown still waiting in them (RabbitMQ keeps durable
    queues; a Redis list stays while it holds a message)."""
    from kombu import Connection

    with Connection(url, connect_timeout=5) as broker, contextlib.suppress(Exception):
        channel = broker.channel()
        if url.startswith("redis"):
            channel.client.delete(*broker_names(queue_prefix=prefix))
            return
        for name in broker_names(queue_prefix=prefix):
            channel.queue_delete(queue=name)
            channel.exchange_delete(exchange=name)


def pending_messages(url: str, prefix: str) -> int:
    """Messages of this prefix's queues still on the broker, waiting or delivered and never acked."""
    from kombu import Connection

    names = broker_names(queue_prefix=prefix)
    with Connection(url, connect_timeout=5) as broker:
        channel = broker.default_channel
        if not url.startswith("redis"):
            return sum(channel.queue_declare(queue=name, passive=True).message_count for name in names)
        client = channel.client
        waiting = sum(client.llen(name) for name in names)
        unacked = [json.loads(raw) for raw in client.hvals("unacked")]
        return waiting + sum(1 for _message, _exchange, key in unacked if key in names)


class Worker:
    """One `celery worker` process (and its pool children) on this test database."""

    def __init__(self, django_db_blocker, *, url: str, prefix: str, concurrency: int = 2, **settings_env):
        with django_db_blocker.unblock():
            database = database_url()
        self.url, self.prefix = url, prefix
        self.env = dict(os.environ)
        self.env.update(
            DATABASE_URL=database,
            CELERY_BROKER_URL=url,
            CELERY_QUEUE_PREFIX=prefix,
            OUTBOUND_ALLOW_PRIVATE_NETWORKS="1",
            CONFIG_CACHE_SECONDS="0",  # each test brings its own rules and queues
            SECRET_KEY="test-worker",
            PYTHONPATH=str(ROOT),
            **settings_env,
        )
        self.concurrency = concurrency
        self.lines: list[str] = []
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "moderation",
                "worker",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-Q",
                ",".join(broker_names(queue_prefix=self.prefix)),
                "-n",
                f"{self.prefix}{uuid.uuid4().hex[:4]}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: a kill takes the pool children with it
        )
        ready = threading.Event()

        def read_output(stream):
            for line in stream:
                self.lines.append(line)
                if " ready." in line:
                    ready.set()

        threading.Thread(target=read_output, args=(self.process.stdout,), daemon=True).start()
        if not ready.wait(60):
            self.kill()
            pytest.fail("celery worker did not start:\n" + "".join(self.lines[-50:]))
        return self

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once, as a machine or container dying would."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if self.process is not None:
            # The pool children die a moment after the main process: gone only once the group is empty.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.killpg(self.process.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def terminate(self) -> None:
        """SIGTERM to the worker's main process, as `docker stop` or systemd send: a warm shutdown."""
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


def run_worker(django_db_blocker, *, broker: str = "redis", **settings_env: str):
    """Start a real Celery worker on this test database and `broker`; point this process's task sends at it;
    yield its output lines; stop it. `settings_env` adds the worker's own settings (env vars)."""
    url, prefix = broker_url(broker), new_prefix()
    worker = Worker(django_db_blocker, url=url, prefix=prefix, **settings_env)
    with sending_to(url, prefix):
        worker.start()
        try:
            yield worker.lines
        finally:
            worker.stop()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1, output=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    tail = "".join((output or [])[-40:])
    pytest.fail(f"condition not met within {timeout}s; worker output:\n{tail}")


class HoldingServer:
    """A loopback HTTP server standing in for a vendor, a media host or the platform: the first request is
    held (no answer) until `release()`, the others are answered at once with `answer`. Each request is kept
    with whether its answer reached a live client (a killed worker's socket is closed by then)."""

    def __init__(self, *, status: int = 200, body: bytes = b"{}", content_type: str = "application/json"):
        self.arrived = threading.Event()  # the first request is in, and held
        self._released = threading.Event()
        self.received: list[dict] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                record = {
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length) if length else b"",
                    "answered": False,
                }
                with owner._lock:
                    owner.received.append(record)
                    first = len(owner.received) == 1
                if first:
                    owner.arrived.set()
                    owner._released.wait(60)
                    if _peer_closed(self.connection):
                        return  # the caller died while we held it: nobody to answer
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                record["answered"] = True

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        # TEST_HOLDING_PORT: a base port (one port a parallel test process above it); unset: any free port.
        base = int(os.environ.get("TEST_HOLDING_PORT", "0"))
        index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
        port = base + index if base else 0
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    @property
    def answered(self) -> list[dict]:
        return [record for record in self.received if record["answered"]]


def _peer_closed(sock) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, 0x40 | 0x2) == b""  # MSG_DONTWAIT | MSG_PEEK
    except OSError:
        return True
