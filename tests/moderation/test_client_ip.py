"""The client address: the peer's, or what a trusted reverse proxy appended to X-Forwarded-For (never what the
client wrote there). Over real HTTP to a live server (the peer is 127.0.0.1), and edge cases on requests."""

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from moderation.client_ip import client_ip, throttle_key
from moderation.env import env_networks
from moderation.models import AuditEvent

PROXY = "10.1.2.3"


def failed_login_ip(live_server, **headers) -> str:
    """Fail a login over real HTTP and return the address the audit log recorded for it."""
    session = requests.Session()
    session.get(f"{live_server.url}/accounts/login/", timeout=5)
    response = session.post(
        f"{live_server.url}/accounts/login/",
        data={"username": "nobody", "password": "wrong", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{live_server.url}/accounts/login/", **headers},
        timeout=5,
    )
    assert response.status_code == 200
    return AuditEvent.objects.filter(verb="auth.login_failed").latest("id").data["ip"]


@pytest.mark.django_db(transaction=True)
def test_forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored(live_server, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]  # some proxy, but not the peer of this request

    assert failed_login_ip(live_server, **{"X-Forwarded-For": "198.51.100.7"}) == "127.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_forwarded_for_from_a_trusted_proxy_names_the_client(live_server, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]

    assert failed_login_ip(live_server, **{"X-Forwarded-For": "198.51.100.7"}) == "198.51.100.7"


@pytest.mark.django_db(transaction=True)
def test_what_the_client_wrote_left_of_the_proxys_entry_is_ignored(live_server, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.0/8"]

    forwarded = "203.0.113.1, 198.51.100.7"  # the client sent "203.0.113.1"; our proxy appended its peer

    assert failed_login_ip(live_server, **{"X-Forwarded-For": forwarded}) == "198.51.100.7"


# --- the rules, request by request ----------------------------------------------------------------------


def request_from(peer: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.fixture
def behind_proxies(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]


def test_without_trusted_proxies_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXIES = []

    assert client_ip(request_from("192.0.2.10", "198.51.100.7")) == "192.0.2.10"


def test_the_right_most_address_that_is_not_a_proxy_is_the_client(behind_proxies):
    # client → 198.51.100.7 (the real client) → proxy 10.0.0.9 → proxy 10.1.2.3 → app
    request = request_from(PROXY, "6.6.6.6, 198.51.100.7, 10.0.0.9")

    assert client_ip(request) == "198.51.100.7"


def test_several_forwarded_for_headers_are_read_as_one_list(behind_proxies):
    # Servers join repeated headers with commas; the last one is still our proxy's.
    assert client_ip(request_from(PROXY, "6.6.6.6,198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize(
    "forwarded",
    ["", "   ", "unknown", "not-an-ip", "198.51.100.7:443", "<script>", "1.2.3.4.5", "x" * 10_000],
)
def test_garbage_in_the_header_is_ignored(behind_proxies, forwarded):
    assert client_ip(request_from(PROXY, forwarded)) == PROXY


def test_garbage_ends_the_walk_instead_of_skipping_to_what_the_client_wrote(behind_proxies):
    assert client_ip(request_from(PROXY, "6.6.6.6, garbage")) == PROXY


def test_when_every_hop_is_a_proxy_the_left_most_is_the_client(behind_proxies):
    assert client_ip(request_from(PROXY, "10.9.9.9, 10.0.0.9")) == "10.9.9.9"


def test_an_ipv4_mapped_address_is_the_ipv4_address(settings):
    settings.TRUSTED_PROXIES = []

    assert client_ip(request_from("::ffff:192.0.2.10")) == "192.0.2.10"


def test_ipv6_proxies_and_clients(behind_proxies):
    assert client_ip(request_from("fd00::1", "2001:db8::1234")) == "2001:db8::1234"


def test_a_missing_or_broken_peer_address_is_no_address(settings):
    settings.TRUSTED_PROXIES = []

    assert client_ip(request_from("", "198.51.100.7")) == ""
    assert client_ip(request_from("garbage")) == ""


def test_one_ipv6_subscriber_is_counted_as_its_whole_64():
    from ipaddress import ip_address

    assert throttle_key(ip_address("2001:db8:1:2::1")) == throttle_key(ip_address("2001:db8:1:2:ffff::9"))
    assert throttle_key(ip_address("2001:db8:1:2::1")) != throttle_key(ip_address("2001:db8:1:3::1"))
    assert throttle_key(ip_address("192.0.2.1")) == "192.0.2.1"


# --- the setting ----------------------------------------------------------------------------------------


def test_trusted_proxies_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7 ,fd00::/8")

    assert env_networks("TRUSTED_PROXIES", []) == ["10.0.0.0/8", "192.0.2.7", "fd00::/8"]


@pytest.mark.parametrize("value", ["10.0.0.1/8", "proxy.internal", "10.0.0.0/33"])
def test_a_bad_trusted_proxy_fails_loudly(monkeypatch, value):
    monkeypatch.setenv("TRUSTED_PROXIES", value)

    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES"):
        env_networks("TRUSTED_PROXIES", [])
