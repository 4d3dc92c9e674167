"""The demo's stand-in platform: a tiny loopback HTTP server that receives enforcement webhooks.

`make run` starts it next to runserver (`manage.py run_fake_platform --port ...`) and `seed_demo` points the
active enforcement endpoint at it, so a decision in the demo shows "delivered" instead of "failed: no
endpoint". It checks every request the way docs/webhooks.md tells a real receiver to (HMAC-SHA256 over
`"<timestamp>." + raw body`, a recent timestamp) and answers 200, or 401 to what does not verify. It applies
nothing: the demo has no platform behind it.
"""

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.db import connections

from moderation.models import EnforcementEndpoint

DEMO_ENDPOINT_NAME = "Demo platform (loopback)"
PATH = "/enforcement"
TIMESTAMP_TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024


def seed_demo_endpoint(*, url: str) -> EnforcementEndpoint:
    """Make the demo platform the active enforcement endpoint (safe to re-run: the secret is kept).

    An endpoint someone configured by hand stays as it is: the demo only takes over when none is active or
    its own one is.
    """
    active = EnforcementEndpoint.objects.filter(is_active=True).first()
    if active is not None and active.name != DEMO_ENDPOINT_NAME:
        return active
    endpoint, _ = EnforcementEndpoint.objects.update_or_create(
        name=DEMO_ENDPOINT_NAME,
        defaults={"url": url, "is_active": True, "timeout_seconds": 5.0},
        create_defaults={
            "url": url,
            "is_active": True,
            "timeout_seconds": 5.0,
            "secret": secrets.token_hex(32),
        },
    )
    return endpoint


def signature_is_valid(*, secret: str, timestamp: str, signature: str, body: bytes, now: float) -> bool:
    """The receiver's check from docs/webhooks.md, written as a platform would (not with the sender's code)."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS:
        return False
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def active_secret() -> str:
    """Read per request, so a secret changed in the admin is honoured without a restart."""
    endpoint = EnforcementEndpoint.objects.filter(is_active=True).only("secret").first()
    return endpoint.secret if endpoint is not None else ""


def make_server(
    host: str, port: int, *, secret: Callable[[], str] = active_secret, log: Callable[[str], None] = print
) -> ThreadingHTTPServer:
    """A server answering POST /enforcement; `serve_forever()` it (port 0 picks a free one)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "DemoPlatform/1"

        def do_POST(self):
            try:
                self._receive()
            finally:
                connections.close_all()  # this request's thread only: each request runs in a new one

        def _receive(self) -> None:
            if self.path.split("?", 1)[0] != PATH:
                return self._answer(404, {"error": "not_found"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return self._answer(413, {"error": "too_large"})
            body = self.rfile.read(length)
            verified = signature_is_valid(
                secret=secret(),
                timestamp=self.headers.get("X-Moderation-Timestamp", ""),
                signature=self.headers.get("X-Moderation-Signature", ""),
                body=body,
                now=time.time(),
            )
            if not verified:
                log("refused a webhook whose signature does not verify (401)")
                return self._answer(401, {"error": "bad_signature"})
            try:
                event = json.loads(body).get("type", "?")
            except (ValueError, AttributeError):
                event = "?"
            log(f"applied {event} {self.headers.get('Idempotency-Key', '')} (200)")
            return self._answer(200, {"status": "applied"})

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):
            pass  # one line per webhook is logged above; the access log would double it

    return ThreadingHTTPServer((host, port), Handler)
