"""TOTP two-factor (django-otp): required for leads and admins, optional for agents (`TWO_FACTOR_REQUIRED`).

After the password, a session is *verified* only once a code from the user's authenticator (or a one-time
backup code) is accepted. Until then the middleware lets through nothing but the enrolment / verification
pages, logout and static files. Enrolment is only offered to accounts without a confirmed device: with the
password alone nobody can swap in their own authenticator. Codes are throttled per device (django-otp doubles
the wait after each failure) and every enrolment, success and failure is audited.
"""

from io import BytesIO
from urllib.parse import urlparse

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from moderation.audit import Actor, Verb, record_event
from moderation.client_ip import client_ip
from moderation.roles import is_privileged

BACKUP_CODE_COUNT = 10
SETUP_URL_NAME, VERIFY_URL_NAME = "two-factor-setup", "two-factor-verify"


def two_factor_required(user) -> bool:
    """Whether this account must pass a second factor: `all`, `privileged` (leads, admins, staff) or `off`."""
    mode = settings.TWO_FACTOR_REQUIRED
    if mode == "all":
        return user.is_authenticated and user.is_active
    if mode == "privileged":
        # Leads, admins, staff, and anyone cleared for a restricted queue (child safety): what they can see or
        # do is worth more than a password.
        if not user.is_authenticated or not user.is_active:
            return False
        if user.is_superuser or user.is_staff:
            return True
        if hasattr(user, "_perm_cache"):  # permissions already loaded this request: a set intersection
            return is_privileged(user) or user.queue_clearances.exists()
        cleared = load_permissions(user)
        return is_privileged(user) or cleared
    return False


# Every request of a signed-in person asks this, and most pages then ask `has_perm`: one statement loads the
# user's permissions (direct and through groups) into the caches Django's ModelBackend (the only
# authentication backend) keeps on the user, and says whether they hold any queue clearance. Loading them
# the usual way, then the clearance, took three.
_PERMISSIONS_SQL = """
SELECT 'user', ct.app_label, p.codename FROM {user_perms} AS up
    JOIN {permission} AS p ON p.id = up.permission_id JOIN {content_type} AS ct ON ct.id = p.content_type_id
    WHERE up.user_id = %s
UNION ALL
SELECT 'group', ct.app_label, p.codename FROM {user_groups} AS ug
    JOIN {group_perms} AS gp ON gp.group_id = ug.group_id JOIN {permission} AS p ON p.id = gp.permission_id
    JOIN {content_type} AS ct ON ct.id = p.content_type_id
    WHERE ug.user_id = %s
UNION ALL
SELECT 'cleared', '', '' FROM (SELECT 1 AS one FROM {clearance} AS c WHERE c.user_id = %s LIMIT 1) AS any_clearance
"""


def load_permissions(user) -> bool:
    """Fill the user's permission caches (as `user.get_all_permissions()` would) in one statement; returns
    whether they hold any queue clearance (current or not: having been cleared is worth a second factor)."""
    model = get_user_model()
    sql = _PERMISSIONS_SQL.format(
        user_perms=model.user_permissions.through._meta.db_table,
        user_groups=model.groups.through._meta.db_table,
        group_perms=Group.permissions.through._meta.db_table,
        permission=Permission._meta.db_table,
        content_type=ContentType._meta.db_table,
        clearance=user.queue_clearances.model._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk, user.pk, user.pk])
        rows = cursor.fetchall()
    found: dict[str, set[str]] = {"user": set(), "group": set(), "cleared": set()}
    for source, app_label, codename in rows:
        found[source].add(f"{app_label}.{codename}")
    user._user_perm_cache = found["user"]
    user._group_perm_cache = found["group"]
    user._perm_cache = found["user"] | found["group"]
    return bool(found["cleared"])


def has_authenticator(user) -> bool:
    """A confirmed authenticator app. Backup codes alone do not count: after a reset (which removes both)
    or with only codes left, the user enrols a new authenticator."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def _exempt(path: str) -> bool:
    """What an unverified session may still reach: the two-factor pages, logout, static files, and the API
    (vendors authenticate with tokens there, never with a staff session)."""
    exempt = (
        reverse(SETUP_URL_NAME),
        reverse(VERIFY_URL_NAME),
        reverse("logout"),
        settings.STATIC_URL,
        "/api/",
        "/healthz",
        "/readyz",
        "/metrics",
    )
    return path.startswith(exempt)


def require_two_factor(get_response):
    """Send authenticated but unverified sessions that need a second factor to verify (or enrol) first."""

    def middleware(request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not _exempt(request.path)
            and two_factor_required(user)
        ):
            step = VERIFY_URL_NAME if has_authenticator(user) else SETUP_URL_NAME
            target = _step_url(step, request.get_full_path())
            if getattr(request, "htmx", False):
                if _exempt(urlparse(request.headers.get("HX-Current-URL", "")).path):
                    # A fragment the two-factor page itself loads (the header's): sending that page to itself
                    # again would reload it for ever. Nothing to swap in until the session is verified.
                    return HttpResponse(status=204)
                response = HttpResponse(status=200)
                response["HX-Redirect"] = target  # a fragment must not swap in the verification page
                return response
            return redirect(target)
        return get_response(request)

    return middleware


def _step_url(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _qr_svg(text: str) -> str:
    """The otpauth URL as an inline SVG (no script, no external image: passes the CSP)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    return svg[svg.index("<svg") :]  # drop the XML declaration


def _clean_code(raw: str) -> str:
    """Digits and letters only (people paste codes with spaces or dashes; NULs and the like never get near
    the database)."""
    return "".join(ch for ch in raw[:64] if ch.isascii() and ch.isalnum())[:16]


SETUP_KEY_SESSION = "two_factor_setup_key"


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator: scan the QR code (or type the key), confirm with a code, get backup codes.

    The key lives in this session until it is confirmed: another session of the same account (someone who
    has only the password) gets a key of its own, never the one the user is about to confirm.
    """
    user = request.user
    if has_authenticator(user):
        # Already enrolled: replacing the device takes a verified session (or an admin resetting it).
        if not user.is_verified():
            return redirect(_step_url(VERIFY_URL_NAME, _next_url(request)))
        return redirect(_next_url(request))
    key = request.session.get(SETUP_KEY_SESSION)
    if not isinstance(key, str) or len(key) != 40:
        key = request.session[SETUP_KEY_SESSION] = default_key()
    pending = TOTPDevice(user=user, key=key, name="Authenticator app")
    error = ""
    if request.method == "POST":
        code = _clean_code(request.POST.get("code", ""))
        match = _matching_step(pending, code)
        if match is not None:
            backup_codes = _confirm_enrolment(request, key, match)
            if backup_codes is not None:
                return render(
                    request,
                    "registration/two_factor_backup_codes.html",
                    {"backup_codes": backup_codes, "next": _next_url(request)},
                )
            return redirect(_step_url(VERIFY_URL_NAME, _next_url(request)))  # another session enrolled
        error = _("That code did not match. Check the time on your phone and try the current code.")
        record_event(
            actor=Actor.for_user(user), verb=Verb.AUTH_TWO_FACTOR_FAILED, target=user, data={"step": "setup"}
        )
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "qr_svg": _qr_svg(pending.config_url),
            "secret": _base32(pending),
            "error": error,
            "next": _next_url(request),
            "required": two_factor_required(user),
        },
        status=400 if error else 200,
    )


def _matching_step(device: TOTPDevice, code: str) -> TOTP | None:
    """The TOTP that matched `code` (one step of clock drift either way; its `t()` and `drift` say where),
    or None. No throttle here: the key is on this very page, so a wait protects nothing and only trips up
    someone who mistyped."""
    if not (code.isdigit() and len(code) == device.digits):
        return None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, 0)
    return totp if totp.verify(int(code), tolerance=1) else None


def _base32(device: TOTPDevice) -> str:
    from base64 import b32encode

    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


@transaction.atomic
def _confirm_enrolment(request: HttpRequest, key: str, match: TOTP) -> list[str] | None:
    """Store the confirmed authenticator and fresh backup codes; None if another session enrolled first."""
    user = get_user_model().objects.select_for_update().get(pk=request.user.pk)
    if has_authenticator(user):
        return None
    # last_t: the code just typed cannot be used again to log in; drift: the phone's clock offset.
    device = TOTPDevice.objects.create(
        user=user, key=key, name="Authenticator app", confirmed=True, last_t=match.t(), drift=match.drift
    )
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    request.session.pop(SETUP_KEY_SESSION, None)
    request.session.cycle_key()
    otp_login(request, device)
    record_event(actor=Actor.for_user(user), verb=Verb.AUTH_TWO_FACTOR_ENROLLED, target=device)
    return codes


@transaction.atomic
def reset_two_factor(*, user, actor: Actor) -> int:
    """Remove every second factor of `user` (authenticator and backup codes): they enrol again at their next
    login. For a lost phone; audited. Returns how many devices were removed."""
    removed = TOTPDevice.objects.filter(user=user).delete()[1].get("otp_totp.TOTPDevice", 0)
    removed += StaticDevice.objects.filter(user=user).delete()[1].get("otp_static.StaticDevice", 0)
    record_event(actor=actor, verb=Verb.AUTH_TWO_FACTOR_RESET, target=user, data={"devices": removed})
    return removed


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """Second step of logging in: a 6-digit code from the authenticator, or one of the backup codes."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not has_authenticator(user):
        return redirect(_step_url(SETUP_URL_NAME, _next_url(request)))
    error, status = "", 200
    if request.method == "POST":
        code = _clean_code(request.POST.get("code", ""))
        device = _verify(user, code)
        if device is not None:
            request.session.cycle_key()
            otp_login(request, device)
            verb = (
                Verb.AUTH_BACKUP_CODE_USED
                if isinstance(device, StaticDevice)
                else Verb.AUTH_TWO_FACTOR_VERIFIED
            )
            record_event(actor=Actor.for_user(user), verb=verb, target=device)
            return redirect(_next_url(request))
        error, status = (
            _("That code did not match, or too many tries: wait a little and try the current code."),
            400,
        )
        record_event(
            actor=Actor.for_user(user),
            verb=Verb.AUTH_TWO_FACTOR_FAILED,
            target=user,
            data={"step": "verify", "ip": client_ip(request)},
        )
    return render(
        request,
        "registration/two_factor_verify.html",
        {"error": error, "next": _next_url(request)},
        status=status,
    )


def _verify(user, code: str):
    """A 6-digit code goes to the authenticator; anything else is tried as a backup code (used up on success).

    Each device is checked on its own (django-otp's throttling counts failures per device).
    """
    if not code:
        return None
    if code.isdigit() and len(code) <= 8:
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            verified = verify_token(user, device.persistent_id, code)
            if verified is not None:
                return verified
        return None
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if not device.verify_is_allowed()[0]:
            continue
        # The delete is the check: of two requests racing with one backup code, only one removes the row
        # (django-otp reads, then deletes, so both could pass).
        if StaticToken.objects.filter(device=device, token=code.lower()).delete()[0]:
            device.throttle_reset(commit=False)
            device.set_last_used_timestamp(commit=False)
            device.save()
            return device
        device.throttle_increment()
    return None
