"""A request id on every log line, from the web request into the tasks it causes (eager here; a real worker
in tests/moderation/test_ops_worker.py), written as one JSON object a line."""

import io
import json
import logging
import re

import pytest

from moderation.request_context import ContextFilter, JSONFormatter

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_a_well_formed_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a9c2e-0001")

    assert response["X-Request-ID"] == "lb-7f3a9c2e-0001"


@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "short",
        "has space-0123456",
        "new\nline-0123456",
        'quote"-0123456789',
        "x" * 129,
        "-starts-with-dash",
    ],
)
def test_a_missing_or_malformed_request_id_is_replaced_by_a_fresh_one(client, incoming):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)

    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_every_answer_carries_one_even_errors_and_refusals(client, settings):
    settings.METRICS_TOKEN = ""

    assert GENERATED.fullmatch(client.get("/metrics")["X-Request-ID"])
    assert GENERATED.fullmatch(client.get("/no/such/page")["X-Request-ID"])


@pytest.fixture
def json_log():
    """The production log handler (JSON formatter, context filter) on the root logger, into a buffer."""
    from moderation.celery import app

    # The first task sent in a process imports the task modules, and Celery's Django fixup then runs
    # django.setup(), which configures logging afresh (dropping handlers added before): have it done first.
    app.loader.import_default_modules()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest.mark.django_db(transaction=True)  # intake commits inside the request, as in production
def test_the_tasks_a_request_causes_log_with_its_request_id(api, report_body, review_setup, json_log):
    response = api.post("/api/v1/reports", report_body(), format="json", HTTP_X_REQUEST_ID="req-intake-42")
    assert response.status_code == 201

    lines = json_log()
    started = [line for line in lines if line["logger"] == "moderation.tasks"]
    assert started, lines
    assert {line["request_id"] for line in started} == {"req-intake-42"}
    assert any("cases." in line["message"] for line in started)
    assert all(set(line) >= {"time", "level", "logger", "message"} for line in lines)


def test_log_lines_outside_any_request_have_no_request_id(json_log):
    logging.getLogger("moderation.test").warning("quiet %s", "night")

    (line,) = [line for line in json_log() if line["logger"] == "moderation.test"]
    assert line["message"] == "quiet night"
    assert line["level"] == "WARNING"
    assert "request_id" not in line


def test_an_exception_is_one_json_line_with_its_traceback(json_log):
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("moderation.test").exception("failed")

    (line,) = [line for line in json_log() if line["logger"] == "moderation.test"]
    assert "ValueError: bad" in line["exception"]


def test_production_logs_json_by_default(monkeypatch):
    import subprocess
    import sys

    program = "from django.conf import settings; print(settings.LOG_FORMAT, settings.LOGGING['handlers']['console']['formatter'])"
    env = {
        "DJANGO_SETTINGS_MODULE": "moderation.settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgres://u@127.0.0.1:1/db",
        "PATH": "/usr/bin:/bin",
    }
    production = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    plain = subprocess.run(
        [sys.executable, "-c", program],
        env={**env, "LOG_FORMAT": "plain"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert production.stdout.split() == ["json", "json"]
    assert plain.stdout.split() == ["plain", "plain"]
