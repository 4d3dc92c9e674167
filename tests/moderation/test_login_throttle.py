"""Staff login is throttled per username and per address: guessing stops after a few failures."""

import pytest

from moderation.models import AuditEvent
from tests import factories

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
    assert event.data == {"username": "lena", "ip": "10.0.0.1"}


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
