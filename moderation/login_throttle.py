"""Login throttling with device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").

A lock-out by username alone lets anyone lock every member of staff out by typing wrong passwords for their
names. So a browser that has signed in as a user before carries a *device cookie* for that user (signed with
SECRET_KEY, HttpOnly, path-restricted to the login page): its attempts for that username are counted against
that device only, never against the username or the address, so strangers' failures cannot lock it out. A
device that fails LOGIN_MAX_FAILURES times is locked out itself, so a stolen cookie is no better at guessing
than no cookie. Attempts without a valid device cookie for the username are counted per username and per
client address (an IPv6 client per /64), as before. A cookie for another username, or a forged or expired
one, counts as no cookie. Counters live in the shared cache for LOGIN_LOCKOUT_SECONDS.
"""

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from moderation.client_ip import client_address, throttle_key

DEVICE_COOKIE_SALT = "moderation.login-device"


@dataclass(frozen=True)
class LoginAttempt:
    username_key: str  # digest of the normalised username
    address_key: str
    device: str | None  # nonce of a valid device cookie for this username, if one was presented

    @property
    def failure_keys(self) -> list[str]:
        if self.device:
            return [f"login-fail:device:{self.device}"]
        return [f"login-fail:user:{self.username_key}", f"login-fail:ip:{self.address_key}"]


def login_attempt(request: HttpRequest) -> LoginAttempt:
    username_key = _username_key(request.POST.get("username") or "")
    return LoginAttempt(
        username_key=username_key,
        address_key=throttle_key(client_address(request)),
        device=_device_nonce(request, username_key),
    )


def is_locked_out(attempt: LoginAttempt) -> bool:
    counts = cache.get_many(attempt.failure_keys)
    return any(count >= settings.LOGIN_MAX_FAILURES for count in counts.values())


def count_failure(attempt: LoginAttempt) -> None:
    for key in attempt.failure_keys:
        # add-then-incr: the window starts at the first failure and is not extended by later ones.
        if not cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def clear_failures(attempt: LoginAttempt) -> None:
    """After a right password: this device's count, or the username's. The address keeps its count, so one
    address guessing many usernames stays counted even if it knows one password."""
    cache.delete(attempt.failure_keys[0])


def issue_device_cookie(response: HttpResponse, *, request: HttpRequest, attempt: LoginAttempt) -> None:
    """A fresh device cookie (new nonce) for the username that just gave the right password."""
    value = signing.dumps(
        {"u": attempt.username_key, "n": secrets.token_urlsafe(16)}, salt=DEVICE_COOKIE_SALT
    )
    response.set_cookie(
        settings.LOGIN_DEVICE_COOKIE_NAME,
        value,
        max_age=int(timedelta(days=settings.LOGIN_DEVICE_COOKIE_DAYS).total_seconds()),
        path=reverse("login"),  # sent with login attempts only
        secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def _device_nonce(request: HttpRequest, username_key: str) -> str | None:
    raw = request.COOKIES.get(settings.LOGIN_DEVICE_COOKIE_NAME, "")
    if not raw or len(raw) > 500:
        return None
    try:
        payload = signing.loads(
            raw, salt=DEVICE_COOKIE_SALT, max_age=timedelta(days=settings.LOGIN_DEVICE_COOKIE_DAYS)
        )
    except signing.BadSignature:  # forged, altered or expired (SignatureExpired is a BadSignature)
        return None
    if not isinstance(payload, dict) or not secrets.compare_digest(str(payload.get("u")), username_key):
        return None
    nonce = payload.get("n")
    return nonce if isinstance(nonce, str) and nonce else None


def _username_key(raw: str) -> str:
    """The login form NFKC-normalises and strips the username before looking it up, so every spelling it
    treats as one username must count as one here (fullwidth letters, case, surrounding spaces)."""
    username = unicodedata.normalize("NFKC", raw.strip()).casefold()[:150]
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]
