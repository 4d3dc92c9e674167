"""Optional HMAC request signing for vendors (v2): timestamp, method, path, query and body signed with a shared
secret, a replay window. A signature is good for exactly one request: not another URL, query or body, not twice."""

import json
import time

import pytest
import requests

from cases.models import Report
from tests.signing import as_meta, signed_headers

pytestmark = pytest.mark.django_db
SECRET = "vendor-signing-secret-0123456789abcdef"


@pytest.fixture
def signing(vendor):
    vendor.require_signature = True
    vendor.signing_secret = SECRET
    vendor.save()
    return vendor


def send(api, url: str, raw: bytes, headers: dict, method: str = "POST"):
    call = getattr(api, method.lower())
    return call(url, data=raw, content_type="application/json", **as_meta(headers))


def signed_post(api, body: dict, *, url="/api/v1/reports", secret=SECRET, timestamp=None, sent_to=None):
    raw = json.dumps(body).encode()
    headers = signed_headers(secret, "POST", url, raw, timestamp=timestamp)
    return send(api, sent_to or url, raw, headers)


def test_a_signed_request_is_accepted(api, signing, report_body):
    assert signed_post(api, report_body()).status_code == 201


def test_an_unsigned_request_is_refused_with_401_and_writes_nothing(api, signing, report_body):
    response = api.post("/api/v1/reports", report_body(), format="json")

    assert response.status_code == 401
    assert "sign requests" in response.json()["detail"]
    assert not Report.objects.exists()


def test_a_tampered_body_is_refused(api, signing, report_body):
    raw = json.dumps(report_body()).encode()
    headers = signed_headers(SECRET, "POST", "/api/v1/reports", raw)

    response = send(api, "/api/v1/reports", raw.replace(b"r-1", b"r-2"), headers)

    assert response.status_code == 401
    assert not Report.objects.exists()


def test_a_wrong_secret_is_refused(api, signing, report_body):
    assert signed_post(api, report_body(), secret="x" * 40).status_code == 401


def test_an_old_timestamp_is_refused(api, signing, report_body):
    assert signed_post(api, report_body(), timestamp=int(time.time()) - 3600).status_code == 401


def test_a_signature_for_one_path_is_refused_on_another(api, signing, report_body):
    batch = {"reports": [report_body()]}

    refused = signed_post(api, batch, url="/api/v1/reports", sent_to="/api/v1/reports/batch")
    accepted = signed_post(api, batch, url="/api/v1/reports/batch")

    assert refused.status_code == 401
    assert "does not match" in refused.json()["detail"]
    assert accepted.status_code == 200, accepted.json()
    assert Report.objects.count() == 1


def test_a_signature_for_one_query_is_refused_with_another(api, signing, report_body):
    body = report_body()

    assert signed_post(api, body, url="/api/v1/reports?a=1", sent_to="/api/v1/reports?a=2").status_code == 401
    assert signed_post(api, body, url="/api/v1/reports", sent_to="/api/v1/reports?a=1").status_code == 401
    assert signed_post(api, body, url="/api/v1/reports?a=1", sent_to="/api/v1/reports").status_code == 401
    assert not Report.objects.exists()
    assert signed_post(api, body, url="/api/v1/reports?a=1").status_code == 201


def test_a_signature_for_one_method_is_refused_with_another(api, signing, report_body):
    report = signed_post(api, report_body()).json()
    url = f"/api/v1/reports/{report['id']}"
    headers = signed_headers(SECRET, "POST", url)

    assert send(api, url, b"", headers, method="GET").status_code == 401


def test_two_different_requests_signed_in_the_same_second_are_both_accepted(api, signing, report_body):
    """Reading two reports in the same second: same timestamp, same (empty) body, different URLs."""
    timestamp = int(time.time())
    first = signed_post(api, report_body(external_id="r-1"), timestamp=timestamp).json()
    second = signed_post(api, report_body(external_id="r-2"), timestamp=timestamp).json()

    answers = [
        send(api, url, b"", signed_headers(SECRET, "GET", url, timestamp=timestamp), method="GET")
        for url in (f"/api/v1/reports/{first['id']}", f"/api/v1/reports/{second['id']}")
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert [answer.json()["external_id"] for answer in answers] == ["r-1", "r-2"]


def test_the_same_signed_request_twice_is_a_replay(api, signing, report_body):
    timestamp = int(time.time())

    first = signed_post(api, report_body(), timestamp=timestamp)
    again = signed_post(api, report_body(), timestamp=timestamp)

    assert first.status_code == 201
    assert again.status_code == 401
    assert "replay" in again.json()["detail"]


def test_the_old_v1_signature_is_refused_with_a_pointer_to_v2(api, signing, report_body):
    import hashlib
    import hmac

    raw = json.dumps(report_body()).encode()
    timestamp = str(int(time.time()))
    v1 = "v1=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()

    response = send(api, "/api/v1/reports", raw, {"X-Timestamp": timestamp, "X-Signature": v1})

    assert response.status_code == 401
    assert "v2" in response.json()["detail"]
    assert not Report.objects.exists()


def test_vendors_that_do_not_sign_are_unaffected(api, report_body):
    assert api.post("/api/v1/reports", report_body(), format="json").status_code == 201


# --- over a real socket, as a vendor's HTTP client sends it ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_vendor_signing_what_its_http_client_sends_is_accepted(live_server, api, signing, report_body):
    """The path and query signed are those of the request line the client really sends."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {api.token}"
    request = requests.Request(
        "POST",
        f"{live_server.url}/api/v1/reports",
        params={"source": "queue a/b", "n": "1"},
        data=json.dumps(report_body()).encode(),
        headers={"Content-Type": "application/json"},
    )
    prepared = session.prepare_request(request)
    prepared.headers.update(signed_headers(SECRET, "POST", prepared.path_url, prepared.body))

    accepted = session.send(prepared, timeout=5)
    replayed = session.send(prepared, timeout=5)

    assert accepted.status_code == 201, accepted.text
    assert replayed.status_code == 401 and "replay" in replayed.json()["detail"]
