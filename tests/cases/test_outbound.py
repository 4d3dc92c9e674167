"""moderation.outbound: the SSRF-guarded HTTP client, against a real HTTP server on loopback.

No mocking of the HTTP layer: every fake is pytest-httpserver's `httpserver` (a werkzeug server on
127.0.0.1). Destinations that must be blocked are literal IPs (or localhost with the private-network setting
off) and are refused before any connection is attempted; blocked tests first check `resolve_destination`,
so a guard regression fails the test before `request()` could send anything to a non-loopback address.
"""

import gzip
import json
import threading
import time

import pytest
from werkzeug import Response as WerkzeugResponse

from moderation import outbound
from moderation.outbound import (
    BadStatus,
    BlockedDestination,
    MalformedResponse,
    OutboundError,
    OutboundTimeout,
    ResponseTooLarge,
    is_public_address,
    request,
    resolve_destination,
)


@pytest.fixture
def allow_private(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    return settings


@pytest.fixture
def deny_private(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    return settings


def url(httpserver, path="/", host="127.0.0.1"):
    return f"http://{host}:{httpserver.port}{path}"


def paths_requested(httpserver):
    return [req.path for req, _ in httpserver.log]


def wait_until_server_idle(httpserver):
    """The fixture's server handles one request at a time: once a probe gets through, earlier (slow) handlers
    are done, so they cannot delay the next test's requests and make its timing meaningless."""
    httpserver.expect_request("/__idle").respond_with_json({})
    request("GET", url(httpserver, "/__idle"), timeout=10, allow_private=True)


# --- blocked destinations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/pub",
        "gopher://127.0.0.1:70/_GET%20/",
        "javascript:alert(1)",
        "data:application/json,{}",
        "//127.0.0.1/no-scheme",
    ],
)
def test_non_http_schemes_are_blocked_even_with_private_networks_allowed(allow_private, httpserver, target):
    with pytest.raises(BlockedDestination) as exc_info:
        request("GET", target, timeout=0.5)
    assert exc_info.value.retryable is False
    assert httpserver.log == []


@pytest.mark.parametrize("userinfo", ["user:secret@", "user@", ":secret@"])
def test_credentials_in_the_url_are_blocked(allow_private, httpserver, userinfo):
    target = f"http://{userinfo}127.0.0.1:{httpserver.port}/x"
    httpserver.expect_request("/x").respond_with_json({"ok": True})

    with pytest.raises(BlockedDestination, match="credentials"):
        request("GET", target, timeout=0.5)
    assert httpserver.log == []


def test_url_without_host_or_with_bad_port_is_blocked(allow_private):
    with pytest.raises(BlockedDestination):
        request("GET", "http:///path", timeout=0.5)
    with pytest.raises(BlockedDestination):
        request("GET", "http://127.0.0.1:99999/", timeout=0.5)


NON_PUBLIC_TARGETS = [
    pytest.param("http://10.0.0.1/", id="private-10"),
    pytest.param("http://192.168.1.1/", id="private-192.168"),
    pytest.param("http://172.16.0.1/", id="private-172.16"),
    pytest.param("http://169.254.169.254/latest/meta-data/", id="link-local-metadata"),
    pytest.param("http://100.64.0.1/", id="cgnat"),
    pytest.param("http://224.0.0.1/", id="multicast"),
    pytest.param("http://0.0.0.0/", id="unspecified-v4"),
    pytest.param("http://[::1]/", id="loopback-v6"),
    pytest.param("http://[fd00::1]/", id="unique-local-v6"),
    pytest.param("http://[::ffff:127.0.0.1]/", id="v4-mapped-loopback"),
    pytest.param("http://127.0.0.1/", id="loopback-v4"),
    pytest.param("http://localhost/", id="localhost"),
    # Alternative spellings of 127.0.0.1 that getaddrinfo accepts.
    pytest.param("http://2130706433/", id="loopback-decimal"),
    pytest.param("http://127.1/", id="loopback-short"),
    pytest.param("http://0x7f.1/", id="loopback-hex"),
    pytest.param("http://LOCALHOST/", id="localhost-upper"),
]


@pytest.mark.parametrize("target", NON_PUBLIC_TARGETS)
def test_non_public_addresses_are_refused_before_connecting(deny_private, target, monkeypatch):
    # The guard alone first: if it let the address through, stop here rather than connect to it.
    with pytest.raises(BlockedDestination):
        resolve_destination(target)
    opened = []
    monkeypatch.setattr(outbound, "HTTPConnection", lambda *args, **kwargs: opened.append(args))
    monkeypatch.setattr(outbound, "HTTPSConnection", lambda *args, **kwargs: opened.append(args))
    with pytest.raises(BlockedDestination) as exc_info:
        request("GET", target, timeout=0.5)
    assert exc_info.value.retryable is False
    assert opened == []  # refused before any connection was made


def test_loopback_with_the_real_server_port_is_refused_and_never_requested(deny_private, httpserver):
    httpserver.expect_request("/secret").respond_with_json({"secret": True})

    for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]"):
        with pytest.raises(BlockedDestination):
            request("GET", url(httpserver, "/secret", host=host), timeout=0.5)
    assert httpserver.log == []


def test_explicit_allow_private_false_overrides_the_setting(allow_private, httpserver):
    httpserver.expect_request("/x").respond_with_json({})

    with pytest.raises(BlockedDestination):
        request("GET", url(httpserver, "/x"), allow_private=False, timeout=0.5)
    assert httpserver.log == []


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "224.0.0.1",
        "239.255.255.250",
        "0.0.0.0",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fd00::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:192.168.1.1",
        "2001:db8::1",
    ],
)
def test_is_public_address_rejects_non_public(address):
    assert is_public_address(address) is False


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111"])
def test_is_public_address_accepts_public(address):
    # Pure classification: nothing is sent to these addresses.
    assert is_public_address(address) is True


# --- allowed loopback -------------------------------------------------------------------------------------


def test_allowed_loopback_returns_status_and_json(allow_private, httpserver):
    httpserver.expect_request("/facts", method="GET").respond_with_json({"ok": True, "n": [1, 2]})

    response = request("GET", url(httpserver, "/facts"), timeout=2)

    assert response.status == 200
    assert response.json() == {"ok": True, "n": [1, 2]}
    assert paths_requested(httpserver) == ["/facts"]


def test_post_sends_json_body_query_and_custom_headers(allow_private, httpserver):
    httpserver.expect_request(
        "/score",
        method="POST",
        query_string="a=1&b=two",
        json={"text": "hé", "n": 1},
        headers={"X-Api-Key": "k-123", "Content-Type": "application/json"},
    ).respond_with_json({"score": 0.5}, status=201)

    response = request(
        "POST",
        url(httpserver, "/score?a=1&b=two#frag"),
        headers={"X-Api-Key": "k-123"},
        json_body={"text": "hé", "n": 1},
        timeout=2,
    )

    assert response.status == 201
    assert response.json() == {"score": 0.5}
    httpserver.check_assertions()
    sent = httpserver.log[0][0]
    assert sent.headers["User-Agent"] == "moderation-review/1.0"
    assert sent.headers["Accept"] == "application/json"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_host_header_is_the_original_host_and_port(allow_private, httpserver, host):
    httpserver.expect_request("/h").respond_with_json({})

    request("GET", url(httpserver, "/h", host=host), timeout=2)

    assert httpserver.log[0][0].headers["Host"] == f"{host}:{httpserver.port}"


def test_configured_host_header_cannot_override_the_real_host(allow_private, httpserver):
    httpserver.expect_request("/h").respond_with_json({})

    request("GET", url(httpserver, "/h"), headers={"Host": "internal.invalid"}, timeout=2)

    assert httpserver.log[0][0].headers["Host"] == f"127.0.0.1:{httpserver.port}"


def test_host_header_for_ipv6_literal_is_bracketed(allow_private, httpserver_ipv6):
    httpserver_ipv6.expect_request("/h").respond_with_json({"v6": True})

    response = request("GET", f"http://[::1]:{httpserver_ipv6.port}/h", timeout=2)

    assert response.json() == {"v6": True}
    # RFC 7230 §5.4 / RFC 3986: an IPv6 literal in Host must keep its brackets ("[::1]:port").
    assert httpserver_ipv6.log[0][0].headers["Host"] == f"[::1]:{httpserver_ipv6.port}"


# --- redirects and statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(allow_private, httpserver, status):
    httpserver.expect_request("/start").respond_with_data(
        "", status=status, headers={"Location": url(httpserver, "/target")}
    )
    httpserver.expect_request("/target").respond_with_json({"followed": True})

    with pytest.raises(BadStatus) as exc_info:
        request("GET", url(httpserver, "/start"), timeout=2)

    assert exc_info.value.status == status
    assert exc_info.value.retryable is False
    assert paths_requested(httpserver) == ["/start"]


def test_relative_redirect_is_not_followed(allow_private, httpserver):
    httpserver.expect_request("/start").respond_with_data("", status=302, headers={"Location": "/target"})
    httpserver.expect_request("/target").respond_with_json({"followed": True})

    with pytest.raises(BadStatus) as exc_info:
        request("POST", url(httpserver, "/start"), json_body={"a": 1}, timeout=2)

    assert exc_info.value.status == 302
    assert "/target" not in paths_requested(httpserver)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (429, True),
        (408, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
    ],
)
def test_error_statuses_raise_bad_status_with_retryable(allow_private, httpserver, status, retryable):
    httpserver.expect_request("/s").respond_with_json({"error": "x"}, status=status)

    with pytest.raises(BadStatus) as exc_info:
        request("GET", url(httpserver, "/s"), timeout=2)

    assert exc_info.value.status == status
    assert exc_info.value.retryable is retryable
    assert isinstance(exc_info.value, OutboundError)


def test_connection_refused_is_a_retryable_outbound_error(allow_private, httpserver):
    # A loopback port nothing listens on: take the server's port, then use one that is free.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]

    with pytest.raises(OutboundError) as exc_info:
        request("GET", f"http://127.0.0.1:{free_port}/", timeout=1)
    assert not isinstance(exc_info.value, BlockedDestination)
    assert exc_info.value.retryable is True


# --- size limits ------------------------------------------------------------------------------------------


def test_declared_content_length_over_limit_is_refused(allow_private, httpserver):
    httpserver.expect_request("/big").respond_with_data(b"x" * 2000, content_type="application/json")

    with pytest.raises(ResponseTooLarge) as exc_info:
        request("GET", url(httpserver, "/big"), max_bytes=1000, timeout=2)
    assert exc_info.value.retryable is False


def test_declared_content_length_is_refused_before_reading_the_body(allow_private, httpserver):
    # The header claims 1 GB; only 2 bytes follow. Refusing on the header alone means ResponseTooLarge,
    # reading the body would end in an incomplete read instead.
    httpserver.expect_request("/liar").respond_with_response(
        WerkzeugResponse([b"{}"], headers={"Content-Length": str(10**9)}, content_type="application/json")
    )

    with pytest.raises(ResponseTooLarge):
        request("GET", url(httpserver, "/liar"), max_bytes=1000, timeout=2)


def test_streamed_body_without_length_over_limit_is_refused(allow_private, httpserver):
    produced = []

    def body():
        for _ in range(200):
            produced.append(1)
            yield b"y" * 1024

    httpserver.expect_request("/stream").respond_with_response(
        WerkzeugResponse(body(), content_type="application/json")
    )

    with pytest.raises(ResponseTooLarge):
        request("GET", url(httpserver, "/stream"), max_bytes=10_000, timeout=3)
    assert "Content-Length" not in httpserver.log[0][1].headers


def test_body_exactly_at_the_limit_is_accepted(allow_private, httpserver):
    payload = json.dumps({"pad": "z" * 980}).encode()
    httpserver.expect_request("/edge").respond_with_data(payload, content_type="application/json")

    response = request("GET", url(httpserver, "/edge"), max_bytes=len(payload), timeout=2)

    assert response.body == payload


def test_compressed_body_is_limited_by_its_decoded_size(allow_private, httpserver):
    decoded = b"0" * 2_000_000
    compressed = gzip.compress(decoded)
    assert len(compressed) < 100_000
    httpserver.expect_request("/bomb").respond_with_data(
        compressed, headers={"Content-Encoding": "gzip"}, content_type="application/json"
    )

    with pytest.raises(ResponseTooLarge):
        request("GET", url(httpserver, "/bomb"), max_bytes=100_000, timeout=3)


def test_default_limit_comes_from_settings(allow_private, httpserver):
    allow_private.OUTBOUND_MAX_RESPONSE_BYTES = 500
    httpserver.expect_request("/big").respond_with_data(b"x" * 600)

    with pytest.raises(ResponseTooLarge):
        request("GET", url(httpserver, "/big"), timeout=2)


# --- time limits ------------------------------------------------------------------------------------------


def test_slow_handler_times_out_before_the_server_answers(allow_private, httpserver):
    wait_until_server_idle(httpserver)
    release, answered = threading.Event(), threading.Event()

    def slow(_request):
        release.wait(10)  # holds the answer until the client has given up
        answered.set()
        return WerkzeugResponse("{}", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)

    try:
        with pytest.raises(OutboundTimeout) as exc_info:
            request("GET", url(httpserver, "/slow"), timeout=0.5)
        gave_up_first = not answered.is_set()
    finally:
        release.set()
    wait_until_server_idle(httpserver)

    assert gave_up_first  # the call returned while the server was still holding its answer
    assert exc_info.value.retryable is True


def test_slowly_dripped_body_hits_the_whole_exchange_deadline(allow_private, httpserver):
    """Each byte arrives well within the read timeout, but the exchange as a whole must stop at the deadline."""

    dripped = []

    def drip():
        for _ in range(12):
            time.sleep(0.25)
            dripped.append(b" ")
            yield b" "

    httpserver.expect_request("/drip").respond_with_response(
        WerkzeugResponse(drip(), content_type="application/json")
    )

    wait_until_server_idle(httpserver)
    with pytest.raises(OutboundTimeout):
        request("GET", url(httpserver, "/drip"), timeout=0.5)
    sent_when_stopped = len(dripped)
    wait_until_server_idle(httpserver)

    # Stopped part-way: every byte came within the read timeout, yet not the whole 12-byte body was waited for.
    assert sent_when_stopped < 12, f"the client waited for all {sent_when_stopped} bytes"


# --- bodies -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"\xff\xfe\x00", b'{"a": 1', b"[" * 100_000 + b"]" * 100_000]
)
def test_malformed_json_raises_malformed_response(allow_private, httpserver, body):
    httpserver.expect_request("/bad").respond_with_data(body, content_type="application/json")

    response = request("GET", url(httpserver, "/bad"), timeout=2, max_bytes=1_000_000)

    assert response.status == 200
    with pytest.raises(MalformedResponse) as exc_info:
        response.json()
    assert exc_info.value.retryable is False


def test_response_json_is_a_plain_dataclass_usable_without_network():
    assert outbound.Response(status=200, body=b'{"a": [1]}').json() == {"a": [1]}
    with pytest.raises(MalformedResponse):
        outbound.Response(status=200, body=b"<html>").json()


@pytest.mark.parametrize("address", ["fec0::1", "fc00::1", "2001:db8::1", "::ffff:10.0.0.1"])
def test_site_local_unique_local_and_documentation_ipv6_are_not_public(address):
    from moderation.outbound import is_public_address

    assert not is_public_address(address)


def test_headers_dripped_a_byte_at_a_time_still_meet_the_deadline(settings, monkeypatch):
    """A peer that never finishes its headers cannot hold a worker thread past the timeout."""
    import socket
    import threading
    import time

    from moderation.outbound import OutboundTimeout, request

    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def drip():
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    fired = []
    real_shut = outbound._shut
    monkeypatch.setattr(outbound, "_shut", lambda connection: (fired.append(True), real_shut(connection)))
    try:
        with pytest.raises(OutboundTimeout):
            request("GET", f"http://127.0.0.1:{server.getsockname()[1]}/", timeout=0.5)
        still_dripping = thread.is_alive() and not stop.is_set()
        assert fired == [True]  # the whole-exchange watchdog ended it, not a per-read timeout
        assert still_dripping  # the peer had not finished its headers: the client did not wait for them
    finally:
        stop.set()
        server.close()
        thread.join(3)
