"""State changes for platform configuration: vendor tokens."""

from django.db import transaction
from django.utils import timezone

from moderation.audit import Actor, record_event
from moderation.models import Vendor, VendorToken
from moderation.tokens import generate_token, hash_token


@transaction.atomic
def issue_vendor_token(*, vendor: Vendor, label: str = "", actor: Actor) -> tuple[VendorToken, str]:
    """Create a token for `vendor`; returns the row and the plaintext, which is never stored or shown again."""
    plaintext = generate_token()
    token = VendorToken.objects.create(
        vendor=vendor, label=label, prefix=plaintext[:12], key_hash=hash_token(plaintext)
    )
    record_event(
        actor=actor, verb="vendor_token.issued", target=token, data={"vendor": vendor.slug, "label": label}
    )
    return token, plaintext


@transaction.atomic
def revoke_vendor_tokens(*, token_ids: list[int], actor: Actor) -> int:
    """Revoke the given tokens (already revoked ones are left as they are); returns how many were revoked."""
    tokens = list(VendorToken.objects.select_for_update().filter(pk__in=token_ids, revoked_at__isnull=True))
    now = timezone.now()
    for token in tokens:
        VendorToken.objects.filter(pk=token.pk).update(revoked_at=now)
        record_event(
            actor=actor, verb="vendor_token.revoked", target=token, data={"vendor_id": token.vendor_id}
        )
    return len(tokens)
