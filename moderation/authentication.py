"""`Authorization: Bearer <token>` for vendors, and optional HMAC request signing."""

import hashlib
import hmac
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from moderation.models import Vendor, VendorToken
from moderation.tokens import hash_token

# Writing last_used_at on every call would add a write per request; once a minute is enough to audit usage.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class VendorTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        token = parts[1]
        if len(token) > 256:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        row = (
            VendorToken.objects.select_related("vendor")
            .filter(key_hash=hash_token(token), revoked_at__isnull=True, vendor__is_active=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .first()
        )
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid, revoked, expired or inactive token.")
        if row.vendor.require_signature:
            check_signature(request, row.vendor)
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
            VendorToken.objects.filter(pk=row.pk).update(last_used_at=now)
        return row.vendor, row

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) with a WWW-Authenticate challenge.
        return 'Bearer realm="api"'


class IsVendor(permissions.BasePermission):
    message = "Authentication credentials were not provided."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, Vendor)


SIGNATURE_HEADER = "HTTP_X_SIGNATURE"
TIMESTAMP_HEADER = "HTTP_X_TIMESTAMP"


def check_signature(request, vendor: Vendor) -> None:
    """`X-Timestamp: <unix seconds>` and `X-Signature: v1=<hex HMAC-SHA256 of "<timestamp>." + body>` with the
    vendor's signing secret. Refused: a missing or wrong signature, a timestamp outside the window, and a
    signature already seen within the window (a replayed request)."""
    timestamp = request.META.get(TIMESTAMP_HEADER, "")
    signature = request.META.get(SIGNATURE_HEADER, "")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12 or not signature:
        raise exceptions.AuthenticationFailed("This vendor must sign requests: X-Timestamp and X-Signature.")
    window = settings.API_SIGNATURE_WINDOW_SECONDS
    if abs(time.time() - int(timestamp)) > window:
        raise exceptions.AuthenticationFailed(f"X-Timestamp is more than {window} s from now.")
    try:
        body = request._request.body  # the raw bytes as sent (Django keeps them for the parser)
    except RequestDataTooBig:
        raise PayloadTooLarge() from None
    expected = (
        "v1="
        + hmac.new(
            vendor.signing_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
    )
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise exceptions.AuthenticationFailed("X-Signature does not match the request.")
    # A signature is good for one request: the same one again inside the window is a replay.
    if not cache.add(f"api-signature:{vendor.pk}:{signature}", 1, window * 2):
        raise exceptions.AuthenticationFailed("This signed request was already received (replay).")


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Request body is too large."
    default_code = "payload_too_large"
