"""Optional HMAC request signing for vendors: timestamp + body signed with a shared secret, a replay window."""

import hashlib
import hmac
import json
import time

import pytest

from cases.models import Report

pytestmark = pytest.mark.django_db
SECRET = "vendor-signing-secret-0123456789abcdef"


@pytest.fixture
def signing(vendor):
    vendor.require_signature = True
    vendor.signing_secret = SECRET
    vendor.save()
    return vendor


def signed_post(api, body: dict, *, secret=SECRET, timestamp=None, tamper=False):
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if tamper:
        raw = raw.replace(b"r-1", b"r-2")
    return api.post(
        "/api/v1/reports",
        data=raw,
        content_type="application/json",
        HTTP_X_TIMESTAMP=timestamp,
        HTTP_X_SIGNATURE=signature,
    )


def test_a_signed_request_is_accepted(api, signing, report_body):
    assert signed_post(api, report_body()).status_code == 201


def test_an_unsigned_request_is_refused_with_401_and_writes_nothing(api, signing, report_body):
    response = api.post("/api/v1/reports", report_body(), format="json")

    assert response.status_code == 401
    assert "sign requests" in response.json()["detail"]
    assert not Report.objects.exists()


def test_a_tampered_body_is_refused(api, signing, report_body):
    response = signed_post(api, report_body(), tamper=True)

    assert response.status_code == 401
    assert not Report.objects.exists()


def test_a_wrong_secret_is_refused(api, signing, report_body):
    assert signed_post(api, report_body(), secret="x" * 40).status_code == 401


def test_an_old_timestamp_is_refused(api, signing, report_body):
    assert signed_post(api, report_body(), timestamp=int(time.time()) - 3600).status_code == 401


def test_the_same_signed_request_twice_is_a_replay(api, signing, report_body):
    raw_body = report_body()
    timestamp = int(time.time())

    first = signed_post(api, raw_body, timestamp=timestamp)
    again = signed_post(api, raw_body, timestamp=timestamp)

    assert first.status_code == 201
    assert again.status_code == 401
    assert "replay" in again.json()["detail"]


def test_vendors_that_do_not_sign_are_unaffected(api, report_body):
    assert api.post("/api/v1/reports", report_body(), format="json").status_code == 201
