"""Staff login is throttled per username and per address: guessing stops after a few failures. A browser that
has signed in as a user before (its device cookie) is counted on its own: strangers cannot lock its owner out."""

import pytest
from django.core import signing
from django.test import Client

from moderation.models import AuditEvent
from tests import factories
from tests.accounts import enrol, person

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-correct-password-1"


@pytest.fixture
def staff():
    user = factories.UserFactory(username="lena")
    user.set_password(PASSWORD)
    user.save()
    return user


def attempt(client, username, password, ip="10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_failed_logins_are_audited(client, staff):
    attempt(client, "lena", "wrong")

    event = AuditEvent.objects.get(verb="auth.login_failed")
    assert event.data == {"username": "lena", "ip": "10.0.0.1", "trusted_device": False}


def test_after_too_many_failures_even_the_right_password_is_refused(client, staff, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for _ in range(3):
        assert attempt(client, "lena", "wrong").status_code == 200  # the form again, with an error

    locked = attempt(client, "lena", PASSWORD, ip="10.0.0.2")

    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_one_address_guessing_many_usernames_is_stopped(client, staff, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for name in ("a", "b", "c"):
        attempt(client, name, "wrong", ip="10.9.9.9")

    assert attempt(client, "lena", PASSWORD, ip="10.9.9.9").status_code == 429
    assert attempt(client, "lena", PASSWORD, ip="10.0.0.7").status_code == 302  # another address is fine


def test_a_successful_login_clears_the_username_count(client, staff, settings):
    settings.LOGIN_MAX_FAILURES = 3
    attempt(client, "lena", "wrong", ip="10.0.0.3")
    attempt(client, "lena", "wrong", ip="10.0.0.4")
    assert attempt(client, "lena", PASSWORD, ip="10.0.0.5").status_code == 302
    client.logout()

    attempt(client, "lena", "wrong", ip="10.0.0.6")

    assert attempt(client, "lena", PASSWORD, ip="10.0.0.8").status_code == 302


# --- device cookies ---------------------------------------------------------------------------------------

DEVICE_COOKIE = "login_device"


@pytest.fixture
def owners_browser(staff):
    """Lena's own browser: she signed in there before (and signed out), so it holds her device cookie."""
    browser = Client()
    assert attempt(browser, "lena", PASSWORD, ip="192.0.2.50").status_code == 302
    sign_out(browser)
    assert DEVICE_COOKIE in browser.cookies
    return browser


def sign_out(browser: Client) -> None:
    """Through the logout page (Client.logout() would also throw away every cookie, as no browser does)."""
    assert browser.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in browser.session


def lock_out_strangers(username: str, n: int) -> Client:
    stranger = Client()
    for i in range(n):
        attempt(stranger, username, f"guess-{i}", ip=f"203.0.113.{i + 1}")
    return stranger


def test_strangers_failures_lock_strangers_out_but_the_owner_still_signs_in(owners_browser, staff, settings):
    settings.LOGIN_MAX_FAILURES = 3
    stranger = lock_out_strangers("lena", 3)

    assert attempt(stranger, "lena", PASSWORD, ip="203.0.113.99").status_code == 429
    assert attempt(Client(), "lena", PASSWORD, ip="192.0.2.51").status_code == 429  # a new browser too
    assert attempt(owners_browser, "lena", PASSWORD, ip="192.0.2.50").status_code == 302
    assert owners_browser.session["_auth_user_id"] == str(staff.pk)


def test_the_owners_browser_is_not_held_by_a_locked_out_address_either(owners_browser, settings):
    """A guesser behind the office's NAT address must not lock out everybody behind it."""
    settings.LOGIN_MAX_FAILURES = 3
    for name in ("a", "b", "c"):
        attempt(Client(), name, "wrong", ip="198.51.100.1")

    assert attempt(Client(), "lena", PASSWORD, ip="198.51.100.1").status_code == 429
    assert attempt(owners_browser, "lena", PASSWORD, ip="198.51.100.1").status_code == 302


def test_a_device_cookie_for_another_username_does_not_help(owners_browser, settings):
    settings.LOGIN_MAX_FAILURES = 3
    mallory = factories.UserFactory(username="mallory")
    mallory.set_password("mallorys-own-password-1")
    mallory.save()
    stranger = Client()
    assert attempt(stranger, "mallory", "mallorys-own-password-1").status_code == 302  # her own cookie
    sign_out(stranger)
    lock_out_strangers("lena", 3)

    assert attempt(stranger, "lena", PASSWORD).status_code == 429


def test_lenas_cookie_does_not_help_for_another_username(owners_browser, settings):
    settings.LOGIN_MAX_FAILURES = 3
    bob = factories.UserFactory(username="bob")
    bob.set_password(PASSWORD)
    bob.save()
    lock_out_strangers("bob", 3)

    assert attempt(owners_browser, "bob", PASSWORD).status_code == 429


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda real: real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB"), id="altered"),
        pytest.param(
            lambda real: signing.dumps(
                {"u": _payload(real)["u"], "n": "mine"},
                key="guessed-key-" + "x" * 40,
                salt="moderation.login-device",
            ),
            id="wrong-key",
        ),
        pytest.param(lambda real: signing.dumps(_payload(real), salt="another-purpose"), id="other-salt"),
        pytest.param(lambda real: "garbage", id="garbage"),
        pytest.param(lambda real: "x" * 4000, id="huge"),
    ],
)
def test_a_forged_device_cookie_does_not_help(owners_browser, settings, forge):
    settings.LOGIN_MAX_FAILURES = 3
    real = owners_browser.cookies[DEVICE_COOKIE].value
    stranger = lock_out_strangers("lena", 3)
    stranger.cookies[DEVICE_COOKIE] = forge(real)

    assert attempt(stranger, "lena", PASSWORD).status_code == 429


def test_an_expired_device_cookie_does_not_help(owners_browser, settings):
    settings.LOGIN_MAX_FAILURES = 3
    lock_out_strangers("lena", 3)
    settings.LOGIN_DEVICE_COOKIE_DAYS = 0

    assert attempt(owners_browser, "lena", PASSWORD).status_code == 429


def test_a_device_cookie_cannot_be_used_to_keep_guessing(owners_browser, settings):
    """A stolen cookie has its own counter: after the limit it is locked out like anyone else."""
    settings.LOGIN_MAX_FAILURES = 3
    stolen = Client()
    stolen.cookies[DEVICE_COOKIE] = owners_browser.cookies[DEVICE_COOKIE].value
    for i in range(3):
        assert attempt(stolen, "lena", f"guess-{i}", ip=f"198.51.100.{i + 1}").status_code == 200

    assert attempt(stolen, "lena", PASSWORD, ip="198.51.100.9").status_code == 429
    assert attempt(owners_browser, "lena", PASSWORD).status_code == 429  # same cookie, same count
    assert attempt(Client(), "lena", PASSWORD).status_code == 302  # the username itself was never counted


def test_failures_with_a_device_cookie_are_audited_as_such(owners_browser):
    attempt(owners_browser, "lena", "wrong")

    event = AuditEvent.objects.get(verb="auth.login_failed")
    assert event.data == {"username": "lena", "ip": "10.0.0.1", "trusted_device": True}


def test_other_spellings_of_a_username_share_its_count(staff, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for spelling in ("LENA", " lena ", "\uff4c\uff45\uff4e\uff41"):  # the last is fullwidth "lena"
        attempt(Client(), spelling, "wrong", ip="203.0.113.7")

    assert attempt(Client(), "lena", PASSWORD, ip="192.0.2.1").status_code == 429


def test_the_device_cookie_is_signed_httponly_and_only_sent_to_the_login_page(staff):
    browser = Client()

    response = attempt(browser, "lena", PASSWORD)

    cookie = response.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["path"] == "/accounts/login/"
    assert cookie["samesite"] == "Strict" and not cookie["secure"]  # plain http in this test
    assert "lena" not in cookie.value  # it names the user by a digest
    assert int(cookie["max-age"]) == 90 * 24 * 3600


def test_the_device_cookie_is_secure_over_https(staff):
    response = Client().post(
        "/accounts/login/", {"username": "lena", "password": PASSWORD}, secure=True, REMOTE_ADDR="10.0.0.1"
    )

    assert response.status_code == 302
    assert response.cookies[DEVICE_COOKIE]["secure"]


def test_a_device_cookie_does_not_skip_two_factor(settings):
    settings.TWO_FACTOR_REQUIRED = "privileged"
    settings.LOGIN_MAX_FAILURES = 3
    lead = person("lead-lena", "lead")
    browser = Client()
    assert attempt(browser, "lead-lena", "correct horse battery staple").status_code == 302
    enrol(browser, lead)
    sign_out(browser)
    lock_out_strangers("lead-lena", 3)

    response = attempt(browser, "lead-lena", "correct horse battery staple")

    assert response.status_code == 302
    assert browser.get("/queues/")["Location"].startswith("/accounts/two-factor/?")


def _payload(cookie_value: str) -> dict:
    return signing.loads(cookie_value, salt="moderation.login-device")
