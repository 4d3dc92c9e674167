"""State changes for platform configuration: vendor tokens."""

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from moderation.audit import Actor, Verb, record_event
from moderation.models import Vendor, VendorToken
from moderation.roles import ROLE_BY_LABEL, ROLES, STAFF_ROLES, sync_roles
from moderation.tokens import generate_token, hash_token


@transaction.atomic
def issue_vendor_token(*, vendor: Vendor, label: str = "", actor: Actor) -> tuple[VendorToken, str]:
    """Create a token for `vendor`; returns the row and the plaintext, which is never stored or shown again."""
    plaintext = generate_token()
    token = VendorToken.objects.create(
        vendor=vendor, label=label, prefix=plaintext[:12], key_hash=hash_token(plaintext)
    )
    record_event(
        actor=actor, verb=Verb.VENDOR_TOKEN_ISSUED, target=token, data={"vendor": vendor.slug, "label": label}
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
            actor=actor, verb=Verb.VENDOR_TOKEN_REVOKED, target=token, data={"vendor_id": token.vendor_id}
        )
    return len(tokens)


@transaction.atomic
def rotate_vendor_token(
    *, vendor: Vendor, actor: Actor, overlap_hours: float = 24.0, label: str = "rotated"
) -> tuple[VendorToken, str]:
    """Issue a new token and let the vendor's current ones work for `overlap_hours` more (then they expire),
    so the vendor can deploy the new one without a gap. Audited (`vendor_token.rotated`)."""
    from datetime import timedelta

    if not 0 <= overlap_hours <= 24 * 30:
        raise ValueError("overlap_hours must be between 0 and 720")
    now = timezone.now()
    expires = now + timedelta(hours=overlap_hours)
    old = VendorToken.objects.select_for_update().filter(vendor=vendor, revoked_at__isnull=True)
    old_ids = [token.pk for token in old if token.expires_at is None or token.expires_at > expires]
    VendorToken.objects.filter(pk__in=old_ids).update(expires_at=expires)
    token, plaintext = issue_vendor_token(vendor=vendor, label=label, actor=actor)
    record_event(
        actor=actor,
        verb=Verb.VENDOR_TOKEN_ROTATED,
        target=token,
        data={"vendor": vendor.slug, "old_tokens": old_ids, "old_expire_at": expires.isoformat()},
    )
    return token, plaintext


@transaction.atomic
def assign_role(*, user, role: str, actor: Actor, teams: list[str] = ()) -> None:
    """Give `user` exactly one role (`agent`, `lead` or `admin`) and add them to team groups, audited.

    Leads and admins get `is_staff` (they use admin pages); agents lose it. Other role groups are removed, so a
    demotion really takes the old permissions away. Teams must exist (they decide which queues someone sees).
    """
    if role not in ROLE_BY_LABEL:
        raise ValueError(f"Unknown role {role!r}: choose one of {', '.join(ROLE_BY_LABEL)}.")
    team_groups = list(Group.objects.filter(name__in=teams).exclude(name__in=ROLES))
    missing = set(teams) - {group.name for group in team_groups}
    if missing:
        raise ValueError(f"No such team group: {', '.join(sorted(missing))}.")
    groups = sync_roles()
    group_name = ROLE_BY_LABEL[role]
    user.groups.remove(*[groups[name] for name in ROLES if name != group_name])
    user.groups.add(groups[group_name], *team_groups)
    user.is_staff = group_name in STAFF_ROLES or user.is_superuser
    user.save(update_fields=["is_staff"])
    record_event(
        actor=actor,
        verb=Verb.USER_ROLE_ASSIGNED,
        target=user,
        data={"role": role, "teams": sorted(group.name for group in team_groups)},
    )
