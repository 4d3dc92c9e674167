"""The vendor API under pressure: a per-vendor rate limit answered with 429 and Retry-After, and a database
outage answered with 503 and Retry-After, writing nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tight_limit():
    """3 requests a minute. DRF binds the rates to the throttle class when it is first imported, so the rate
    is swapped on the class (never by reloading DRF's settings, which would leave every later test at 3/min)."""
    from moderation.api_errors import VendorRateThrottle

    original = VendorRateThrottle.THROTTLE_RATES
    VendorRateThrottle.THROTTLE_RATES = {**original, "vendor": "3/min"}
    yield
    VendorRateThrottle.THROTTLE_RATES = original


def test_a_vendor_over_its_rate_gets_429_with_retry_after(api, report_body, tight_limit):
    answers = [
        api.post("/api/v1/reports", report_body(external_id=f"r-{n}"), format="json") for n in range(4)
    ]

    assert [answer.status_code for answer in answers] == [201, 201, 201, 429]
    throttled = answers[-1]
    assert int(throttled["Retry-After"]) > 0
    assert throttled.json()["error"] == "throttled"


def test_the_limit_is_per_vendor(api, other_api, report_body, tight_limit):
    for n in range(3):
        api.post("/api/v1/reports", report_body(external_id=f"r-{n}"), format="json")

    other = other_api.post("/api/v1/reports", report_body(external_id="o-1"), format="json")

    assert other.status_code == 201


SCRIPT = """
import django, json
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
response = client.post(
    "/api/v1/reports",
    data=json.dumps({"external_id": "x", "reason": "spam", "subject": {"kind": "post", "external_id": "p"}}),
    content_type="application/json",
    HTTP_AUTHORIZATION="Bearer mrv_not-checked-the-database-is-down",
)
print(json.dumps({"status": response.status_code, "retry": response.get("Retry-After"), "body": response.json()}))
"""


def test_an_unreachable_database_is_a_503_with_retry_after():
    env = {
        **os.environ,
        # Port 1 on loopback: nothing listens, the connection is refused at once.
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/unreachable?connect_timeout=2",
        "DJANGO_SETTINGS_MODULE": "moderation.settings",
        "LOG_LEVEL": "CRITICAL",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503, result.stderr[-2000:]
    assert answer["retry"] == "5"
    assert answer["body"]["error"] == "unavailable"
