"""The receiving side of our webhooks (the platform's enforcement endpoint, a vendor's callback URL), written
from docs/webhooks.md as a receiver would, not from the app's code; and a stand-in broker for delivery tasks.

A receiver is a real HTTP server on loopback (pytest-httpserver). It checks every request the way the docs
tell receivers to: HMAC-SHA256 over `"<timestamp>." + raw body` with the shared secret, a recent timestamp,
and each `Idempotency-Key` applied once.
"""

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass

from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response
from werkzeug.datastructures import Headers

from moderation.celery import app


def verify(secret: str, headers, raw_body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as docs/webhooks.md gives it."""
    timestamp = headers.get("X-Moderation-Timestamp", "")
    signature = headers.get("X-Moderation-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = (
        "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected, signature)


@dataclass
class Received:
    headers: Headers
    body: bytes
    verified: bool
    status: int

    @property
    def key(self) -> str:
        return self.headers.get("Idempotency-Key", "")

    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))


class Receiver:
    """A webhook receiver. Refuses (401) what does not verify; otherwise answers the next queued status (200
    when none is queued) and, on 2xx, applies the message once per idempotency key. `stall_next` makes the
    next 2xx answer arrive only after that many seconds (applied, answer late); `stall_all` every answer;
    `during_request` is called while the request is in flight (before it is answered)."""

    def __init__(self, secret: str):
        self.secret = secret
        self.received: list[Received] = []
        self.applied: dict[str, dict] = {}
        self.stall_next = 0.0
        self.stall_all = 0.0
        self.during_request = None
        self._answers: list[int] = []
        self._lock = threading.Lock()

    def answer(self, *statuses: int) -> None:
        self._answers.extend(statuses)

    def handle(self, request) -> Response:
        raw = request.get_data()
        verified = verify(self.secret, request.headers, raw)
        with self._lock:
            status = (self._answers.pop(0) if self._answers else 200) if verified else 401
            if 200 <= status < 300:
                self.applied.setdefault(request.headers["Idempotency-Key"], json.loads(raw))
            self.received.append(Received(Headers(request.headers), raw, verified, status))
            stall, self.stall_next = (self.stall_next, 0.0) if status < 300 else (0.0, self.stall_next)
        if self.during_request is not None:
            self.during_request()
        if stall or self.stall_all:
            time.sleep(stall or self.stall_all)
        if status in (301, 302):
            return Response("moved", status=status, headers={"Location": "/elsewhere"})
        return Response(b"" if status == 204 else b'{"ok": true}', status=status)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopbackServers:
    """Receivers on their own loopback servers (not the shared `httpserver`): `build(up=False)` is reachable at
    its URL but not listening yet (connections are refused) until `.start()`; `threaded=True` answers requests
    concurrently (one stalled answer does not hold up the next)."""

    def __init__(self):
        self.servers: list[HTTPServer] = []

    def build(self, *, secret: str, path: str, up: bool = True, threaded: bool = False) -> Receiver:
        port = free_port()
        server = HTTPServer(host="127.0.0.1", port=port, threaded=threaded)
        self.servers.append(server)
        receiver = Receiver(secret)
        server.expect_request(path, method="POST").respond_with_handler(receiver.handle)
        receiver.url = f"http://127.0.0.1:{port}{path}"
        receiver.start = server.start
        if up:
            server.start()
        return receiver

    def stop(self) -> None:
        for server in self.servers:
            if server.is_running():
                server.stop()


def backoff_passes(message) -> None:
    """The wait before a row's scheduled retry is over (time moves on for it; nothing else changes)."""
    type(message).objects.filter(pk=message.pk, next_attempt_at__gt=timezone.now()).update(
        next_attempt_at=timezone.now()
    )


class HeldTasks:
    """Stands in for the broker: a delivery task's messages are held as (args, countdown) instead of run
    eagerly; `run_next()` runs the oldest as a worker would once its countdown is over (not eager).
    Build it with `hold_task`."""

    def __init__(self, task, model):
        self.task = task
        self.model = model
        self.sent: list[tuple[tuple, float | None]] = []

    def delay(self, *args):
        self.sent.append((args, None))

    def apply_async(self, args, countdown=None, **options):
        self.sent.append((tuple(args), countdown))

    def run(self, *args) -> str:
        return self.task.run(*args)

    def run_next(self) -> str:
        args, countdown = self.sent.pop(0)
        if countdown:
            backoff_passes(self.model(pk=args[0]))
        return self.run(*args)


def hold_task(monkeypatch, name: str, model) -> HeldTasks:
    """Messages sent to the task registered as `name` (services send by name) are held, not run."""
    task = app.tasks[name]
    held = HeldTasks(task, model)
    monkeypatch.setattr(task, "delay", held.delay)
    monkeypatch.setattr(task, "apply_async", held.apply_async)
    return held
