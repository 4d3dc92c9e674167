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
from django.utils.encoding import escape_uri_path
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
SIGNATURE_SCHEME = "v2="


def check_signature(request, vendor: Vendor) -> None:
    """`X-Timestamp: <unix seconds>` and `X-Signature: v2=<hex HMAC-SHA256 of the request>` with the vendor's
    signing secret, where the request is `"<timestamp>\\n<METHOD>\\n<path>\\n<query>\\n" + body` (docs/api.md).

    Method, path and query are signed with the body, so a signature made for one URL is refused on any other,
    and every separator is a newline, which none of the parts can contain, so no bytes can be moved from one
    part to another under the same signature. Refused: a missing or wrong signature, the old `v1=` scheme
    (timestamp and body only), a timestamp outside the window, and a signature already seen within the window:
    since it covers the whole request, the same signature twice is the same request twice (a replay), while
    two different requests in the same second have different signatures and are both accepted."""
    timestamp = request.META.get(TIMESTAMP_HEADER, "")
    signature = request.META.get(SIGNATURE_HEADER, "")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12 or not signature:
        raise exceptions.AuthenticationFailed("This vendor must sign requests: X-Timestamp and X-Signature.")
    if signature.startswith("v1="):
        raise exceptions.AuthenticationFailed(
            "v1 signatures (timestamp and body only) are no longer accepted: sign method, path, query and "
            "body with v2 (docs/api.md)."
        )
    window = settings.API_SIGNATURE_WINDOW_SECONDS
    if abs(time.time() - int(timestamp)) > window:
        raise exceptions.AuthenticationFailed(f"X-Timestamp is more than {window} s from now.")
    try:
        body = request._request.body  # the raw bytes as sent (Django keeps them for the parser)
    except RequestDataTooBig:
        raise PayloadTooLarge() from None
    expected = (
        SIGNATURE_SCHEME
        + hmac.new(
            vendor.signing_secret.encode(), signed_message(request, timestamp, body), hashlib.sha256
        ).hexdigest()
    )
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise exceptions.AuthenticationFailed("X-Signature does not match the request.")
    if not cache.add(f"api-signature:{vendor.pk}:{expected}", 1, window * 2):
        raise exceptions.AuthenticationFailed("This signed request was already received (replay).")


def signed_message(request, timestamp: str, body: bytes) -> bytes:
    """What a v2 signature covers. The path percent-encoded as Django sees it (plain ASCII paths, as every
    API path is, are signed exactly as written); the query string exactly as sent (percent-encoded ASCII),
    "" when there is none. Anything else cannot match what the vendor signed, and is refused."""
    path = escape_uri_path(request.path)
    query = request.META.get("QUERY_STRING", "")
    return f"{timestamp}\n{request.method}\n{path}\n{query}\n".encode("utf-8", "replace") + body


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "Request body is too large."
    default_code = "payload_too_large"
