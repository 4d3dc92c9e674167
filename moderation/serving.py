"""How the web tier is served in production: gunicorn managing uvicorn workers that run `moderation.asgi`.

    gunicorn -c python:moderation.serving moderation.asgi:application [--bind HOST:PORT]

(`make serve`, the Dockerfile and docker-compose all run exactly this.) This module is the gunicorn
configuration (its module-level settings) and the worker class.

Why not gunicorn's sync workers: each holds one connection from its first byte to its last, so a few clients
sending their headers a byte at a time (or reading the answer slowly) take every worker and stall every
request. A uvicorn worker waits for all its connections at once on an event loop and runs a request only once
it has fully arrived, so slow clients cost a socket each, not a worker. In front of it, nginx (deploy/nginx.conf)
buffers whole requests and answers and drops clients that are too slow, so the app only ever talks to a fast
local peer; this server must hold up even without it (tests/moderation/test_serving.py).
"""

import os

from uvicorn_worker import UvicornWorker as _UvicornWorker


class UvicornWorker(_UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "auto",
        "http": "auto",
        # X-Forwarded-For and -Proto are judged by the app (TRUSTED_PROXIES, BEHIND_TLS_PROXY), in one place:
        # the server must not rewrite the peer address from them first.
        "proxy_headers": False,
        "server_header": False,
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Past this many open connections (slow ones included) a worker answers 503 at once instead of queueing
        # without bound: memory and file descriptors stay bounded whatever clients do.
        self.config.limit_concurrency = self.cfg.worker_connections


# --- gunicorn settings -------------------------------------------------------------------------------------
wsgi_app = "moderation.asgi:application"
worker_class = "moderation.serving.UvicornWorker"
bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = int(os.environ.get("WEB_MAX_CONNECTIONS", "1000"))
# A worker whose event loop has not checked in for this long is killed and replaced (views run in threads, so
# only a wedged loop trips it); on shutdown, requests in flight get graceful_timeout to finish.
timeout = 60
graceful_timeout = 30
keepalive = 5  # seconds an idle keep-alive connection is kept (behind nginx, its upstream pool reuses them)
# Recycle workers now and then (with jitter, not all at once), bounding any slow leak.
max_requests = 20_000
max_requests_jitter = 2_000
accesslog = "-"
forwarded_allow_ips = ""


def on_starting(server) -> None:
    """gunicorn's master, before any worker: start this run's metrics files afresh (moderation/metrics.py)."""
    from moderation.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir()
