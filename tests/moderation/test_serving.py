"""The production web server holds up against slow clients: the real server command (moderation/serving.py) on a
loopback port, 50 connections trickling their request a byte a second, and a normal request still answered at
once. Runs against the test database (PostgreSQL when DATABASE_URL says so, else a SQLite file)."""

import contextlib
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from django.db import connection

from tests.query_plans import postgres_only

ROOT = Path(__file__).resolve().parents[2]
SERVE = ["-c", "python:moderation.serving", "moderation.asgi:application"]
SLOW_CLIENTS = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(tmp_path: Path) -> str:
    """The test database as a DATABASE_URL for the server process (an in-memory SQLite cannot be shared)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":  # the engine is moderation.postgresql, Django's plus one statement
        auth = quote(db["USER"] or "", safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        return (
            f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'], safe='')}"
        )
    return f"sqlite:///{tmp_path / 'serve.sqlite3'}"


@pytest.fixture
def production_server(django_db_setup, tmp_path):
    """`gunicorn -c python:moderation.serving moderation.asgi:application` in production mode, one worker."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "REDIS_", "SQLITE_", "DB_"))
    }
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url(tmp_path),
        ALLOWED_HOSTS="127.0.0.1",
        WEB_CONCURRENCY="1",  # one worker is enough: it must not be held by any one client
        VAR_DIR=str(tmp_path / "var"),
    )
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *SERVE, "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or the worker still booting
                pass
            assert time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class SlowClients:
    """Connections that send a request line and headers one byte a second and never finish them."""

    def __init__(self, port: int, count: int):
        self.request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self):
        while not self.stop.is_set() and self.sent < len(self.request):
            byte = self.request[self.sent : self.sent + 1]
            for sock in self.sockets:
                with contextlib.suppress(OSError):  # a server may drop a client that slow: its right
                    sock.sendall(byte)
            self.sent += 1
            self.stop.wait(1.0)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.mark.django_db
def test_slow_clients_do_not_hold_the_server(production_server):
    port = int(production_server.rsplit(":", 1)[1])
    slow = SlowClients(port, SLOW_CLIENTS)
    try:
        time.sleep(3)  # every slow connection is accepted and part-way through its request line
        assert slow.sent >= 3

        # Generous: a server whose workers the slow clients held would not answer at all until they finish,
        # which at a byte a second is hours away.
        response = requests.get(f"{production_server}/healthz", timeout=15)

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert slow.sent < len(slow.request)  # answered while every slow request was still unfinished
    finally:
        slow.close()


@pytest.mark.django_db
def test_the_production_server_sends_no_server_header(production_server):
    response = requests.get(f"{production_server}/healthz", timeout=5)

    assert response.status_code == 200
    assert "server" not in {name.lower() for name in response.headers}


def server_backends() -> set[tuple[int, object]]:
    """The PostgreSQL connections the server holds on the test database (pid, started), not this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return set(cursor.fetchall())


@pytest.mark.django_db
@postgres_only
def test_the_production_server_reuses_pooled_database_connections(production_server):
    """Under ASGI a connection per request (no pool, no persistence) cost PostgreSQL ~18 ms CPU per request:
    a backend forked, authenticated and warmed for each. The server keeps its connections between requests."""
    for _ in range(5):
        assert requests.get(f"{production_server}/healthz", timeout=5).status_code == 200
    deadline, held = time.monotonic() + 10, None
    while time.monotonic() < deadline:  # the pool fills to its minimum in the background: wait until it has
        snapshot = server_backends()
        if snapshot and snapshot == held:
            break
        held = snapshot
        time.sleep(0.5)
    assert held, "the server kept no database connection between requests"

    for _ in range(30):
        assert requests.get(f"{production_server}/healthz", timeout=5).status_code == 200

    assert server_backends() == held  # the same backends served all 30: none opened, none dropped


def test_make_serve_the_image_and_compose_run_the_same_server():
    serve = " ".join(SERVE)
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^serve:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    assert f"gunicorn {serve}" in recipe
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (.*)$", dockerfile, re.M).group(1)
    assert f'"gunicorn", "{SERVE[0]}", "{SERVE[1]}", "{SERVE[2]}"' in cmd
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["command"][:4] == ["gunicorn", *SERVE]


def test_compose_puts_a_buffering_nginx_in_front_of_the_web_server():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web, nginx = compose["services"]["web"], compose["services"]["nginx"]
    assert "ports" not in web  # reachable only through nginx
    assert nginx["ports"] and nginx["depends_on"]["web"]["condition"] == "service_healthy"
    mount = next(volume for volume in nginx["volumes"] if volume.startswith("./deploy/nginx.conf:"))
    conf = (ROOT / mount.split(":")[0].removeprefix("./")).read_text()
    assert "proxy_pass http://" in conf
    for directive in (
        "client_header_timeout",
        "client_body_timeout",
        "proxy_request_buffering on",
        "proxy_buffering on",
    ):
        assert directive in conf
    # nginx writes X-Forwarded-For itself, and web believes it only from nginx's network.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert web["environment"]["TRUSTED_PROXIES"]
