"""With a real Celery worker process (Redis broker, PostgreSQL): the request id of the API call that brought a
report is on the worker's JSON log lines for the tasks it caused, and the worker's heartbeat makes /readyz
ready. Needs PostgreSQL and TEST_REDIS_URL (CI sets both); elsewhere the module is skipped."""

import json

import pytest
from django.db import connection

from moderation.taskdefs import enqueue
from tests.cases.test_worker_e2e import REDIS_URL, _broker_url, run_worker, wait_for

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql' or not REDIS_URL",
        reason="needs PostgreSQL and TEST_REDIS_URL (a real broker)",
    ),
]

# The cache both this process and the worker use (REDIS_URL in production): where the heartbeat is.
CACHE_URL = REDIS_URL.rsplit("/", 1)[0] + "/8" if REDIS_URL else ""


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker):
    yield from run_worker(django_db_blocker, LOG_FORMAT="json", REDIS_URL=CACHE_URL)


@pytest.fixture
def shared_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
    settings.CELERY_BROKER_URL = _broker_url()


def _json_lines(output: list[str]) -> list[dict]:
    lines = []
    for line in list(output):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def test_the_workers_log_lines_for_a_reports_tasks_carry_the_api_requests_id(
    worker, api, report_body, review_setup
):
    assert connection.vendor == "postgresql"

    response = api.post(
        "/api/v1/reports", report_body(), format="json", HTTP_X_REQUEST_ID="vendor-req-9f8e7d6c"
    )
    assert response.status_code == 201
    assert response["X-Request-ID"] == "vendor-req-9f8e7d6c"

    def enrichment_lines():
        return [
            entry
            for entry in _json_lines(worker)
            if entry.get("request_id") == "vendor-req-9f8e7d6c"
            and entry.get("task_name") == "cases.enrich_cases"
        ]

    lines = wait_for(enrichment_lines, output=worker)
    assert all(entry["task_id"] for entry in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    # Let the tasks the report set off (routing, grouping) finish before the test's tables are truncated: a
    # worker still writing then holds locks the flush waits on (a deadlock in CI).
    wait_for(lambda: _idle(worker), output=worker)


def _idle(output: list[str]) -> bool:
    """Every task the worker received has ended (succeeded, raised or was retried)."""
    received = ended = 0
    for line in list(output):
        received += "] received" in line
        ended += any(mark in line for mark in ("] succeeded in", "] raised", "] retry:"))
    return received > 0 and ended >= received


def test_a_running_worker_makes_readyz_ready(worker, client, shared_cache):
    enqueue("moderation.record_worker_heartbeat")  # as beat sends it

    def ready():
        response = client.get("/readyz")
        return response.status_code == 200 and json.loads(response.content)

    body = wait_for(ready, output=worker)
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "ok", "worker": "ok"}
