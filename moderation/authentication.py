"""`Authorization: Bearer <token>` for vendors."""

from datetime import timedelta

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
