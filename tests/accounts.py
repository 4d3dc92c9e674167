"""Staff accounts for tests: a user with a role and a password, logged in through the real login page, and
the codes their authenticator app would show."""

import re
from base64 import b32decode

from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from moderation.audit import Actor
from moderation.services import assign_role
from tests import factories

PASSWORD = "correct horse battery staple"
SETUP, VERIFY = "/accounts/two-factor/setup/", "/accounts/two-factor/"


def fresh(user) -> User:
    """A new instance: permissions and visible queues are memoised on the user object."""
    return User.objects.get(pk=user.pk)


def person(username: str, role: str, teams=(), *, password: str = PASSWORD) -> User:
    user = factories.UserFactory(username=username)
    user.set_password(password)
    user.save()
    assign_role(user=user, role=role, teams=list(teams), actor=Actor.system("test"))
    return fresh(user)


def logged_in(user: User) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def current_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def key_from_secret(secret: str) -> bytes:
    """The key as the setup page prints it (base32 in groups of four) → bytes, as a phone would read it."""
    key = secret.replace(" ", "")
    return b32decode(key + "=" * (-len(key) % 8))


def shown_key(html: str) -> bytes:
    """The key on a rendered setup page."""
    return key_from_secret(re.search(r'data-testid="otp-secret">([A-Z2-7 ]+)<', html).group(1))


def code_for_key(key: bytes, steps_ahead: int = 0) -> str:
    return current_code(TOTPDevice(key=key.hex()), steps_ahead)


def enrol(client: Client, user: User) -> tuple[TOTPDevice, list[str]]:
    """Enrol through the setup page like a person would; returns the device and the backup codes shown."""
    key = shown_key(client.get(SETUP).content.decode())
    page = client.post(SETUP, {"code": code_for_key(key), "next": "/queues/"})
    assert page.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", page.content.decode())
    return TOTPDevice.objects.get(user=user, confirmed=True), codes
