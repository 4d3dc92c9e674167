"""Shared pieces for benchmarks: a fresh PostgreSQL database, a gunicorn server, a multi-process HTTP load."""

import http.client
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def fresh_database(name: str) -> str:
    """Drop and create `name` on the server of $DATABASE_URL (default local PostgreSQL); return its URL."""
    base = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/postgres"
    )
    parsed = urlparse(base)
    import psycopg

    admin_url = parsed._replace(path="/postgres", query="").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed._replace(path=f"/{name}").geturl()


def django_env(database_url: str, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-only",
        DJANGO_DEBUG="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="moderation.settings",
    )
    env.update(extra)
    return env


def manage(env: dict, *args: str) -> str:
    out = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """The production web server (moderation/serving.py: uvicorn workers, ASGI), as `make serve` runs it."""

    def __init__(self, env: dict, workers: int = 2, port: int | None = None):
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "-c",
                "python:moderation.serving",
                "moderation.asgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--access-logfile",
                "/dev/null",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)


def _post_many(args):
    port, token, path, bodies, extra_headers = args
    latencies = []
    statuses: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **extra_headers}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies:
        started = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (http.client.HTTPException, OSError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        latencies.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    return latencies, statuses


def post_concurrently(
    port: int, token: str, path: str, bodies: list[bytes], clients: int, headers: dict | None = None
):
    """POST every body with `clients` processes; returns (seconds, latencies, statuses)."""
    chunks = [bodies[i::clients] for i in range(clients)]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(_post_many, [(port, token, path, chunk, headers or {}) for chunk in chunks])
        elapsed = time.perf_counter() - started
    latencies = sorted(lat for lats, _ in results for lat in lats)
    statuses: dict[int, int] = {}
    for _, part in results:
        for code, count in part.items():
            statuses[code] = statuses.get(code, 0) + count
    return elapsed, latencies, statuses


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


def dumps(value) -> bytes:
    return json.dumps(value).encode()
