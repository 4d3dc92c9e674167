"""`/healthz` (alive) and `/readyz` (able to work now), each dependency taken down for real: the database and
the cache pointed at a closed loopback port (or an unopenable file), the broker at a port nobody listens on,
the worker heartbeat left to go stale. Answers say ok / failed per check and nothing else."""

import json
import os
import time

import pytest
from django.db import connection
from django.db.utils import load_backend

from moderation import ops_views
from moderation.celery_signals import HEARTBEAT_CACHE_KEY, beat
from tests.webhooks import free_port

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
REVEALING = ("127.0.0.1", "localhost", "redis", "postgres", "sqlite", "password", "Traceback", "version")


def ready(client):
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed = time.monotonic() - started
    body = json.loads(response.content)
    assert not any(word in response.content.decode() for word in REVEALING)
    assert elapsed < 5, "a probe must answer a load balancer quickly, dependency down or not"
    return response.status_code, body


def test_healthz_answers_without_login_and_says_nothing_else(client):
    response = client.get("/healthz")

    assert (response.status_code, json.loads(response.content)) == (200, {"status": "ok"})


def test_readyz_is_ready_with_no_broker_configured_tasks_running_in_process(client, settings):
    settings.CELERY_BROKER_URL = ""

    assert ready(client) == (
        200,
        {
            "status": "ok",
            "checks": {"database": "ok", "cache": "ok", "broker": "skipped", "worker": "skipped"},
        },
    )


def _unreachable_database():
    """A real connection of the same backend that cannot connect: a closed port, or a file it cannot open."""
    settings_dict = dict(connection.settings_dict)
    if connection.vendor == "postgresql":
        settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()), OPTIONS={"connect_timeout": 2})
    else:
        settings_dict["NAME"] = "/nonexistent-directory/readyz/db.sqlite3"
    settings_dict.pop("TEST", None)
    backend = load_backend(settings_dict["ENGINE"])
    return backend.DatabaseWrapper({**connection.settings_dict, **settings_dict}, alias="readyz-down")


def test_readyz_fails_when_the_database_cannot_be_reached(client, settings, monkeypatch):
    settings.CELERY_BROKER_URL = ""
    down = _unreachable_database()
    monkeypatch.setattr(ops_views, "connection", down)
    try:
        status, body = ready(client)
    finally:
        down.close()

    assert status == 503
    assert body == {
        "status": "failed",
        "checks": {"database": "failed", "cache": "ok", "broker": "skipped", "worker": "skipped"},
    }


def test_readyz_fails_when_the_cache_cannot_be_reached(client, settings):
    settings.CELERY_BROKER_URL = ""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    status, body = ready(client)

    assert status == 503
    assert body["checks"] == {"database": "ok", "cache": "failed", "broker": "skipped", "worker": "skipped"}


def test_readyz_fails_when_the_broker_is_down_and_no_worker_beats(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"

    status, body = ready(client)

    assert status == 503
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "failed", "worker": "failed"}


needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL (a real Redis broker)")


@needs_redis
def test_readyz_is_ready_with_the_broker_up_and_a_fresh_worker_heartbeat(client, settings):
    settings.CELERY_BROKER_URL = REDIS_URL.rsplit("/", 1)[0] + "/8"
    beat(force=True)

    assert ready(client) == (
        200,
        {"status": "ok", "checks": {"database": "ok", "cache": "ok", "broker": "ok", "worker": "ok"}},
    )


@needs_redis
def test_readyz_fails_when_the_last_worker_heartbeat_is_older_than_the_limit(client, settings):
    from django.core.cache import cache

    settings.CELERY_BROKER_URL = REDIS_URL.rsplit("/", 1)[0] + "/8"
    settings.READY_WORKER_HEARTBEAT_SECONDS = 60
    cache.set(HEARTBEAT_CACHE_KEY, time.time() - 61)

    status, body = ready(client)

    assert status == 503
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "ok", "worker": "failed"}

    cache.set(HEARTBEAT_CACHE_KEY, time.time() - 50)
    assert ready(client)[0] == 200


def test_probes_need_no_login_even_when_two_factor_is_required(client, settings, django_user_model):
    settings.TWO_FACTOR_REQUIRED = "all"
    settings.CELERY_BROKER_URL = ""
    client.force_login(django_user_model.objects.create_user("ops", password="x" * 12))

    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
