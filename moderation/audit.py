"""Writing the append-only audit log. Call inside the transaction of the change being audited."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from moderation.models import AuditEvent, Vendor


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(AuditEvent.ActorType.SYSTEM, "", label)

    @classmethod
    def for_vendor(cls, vendor: Vendor) -> "Actor":
        return cls(AuditEvent.ActorType.VENDOR, str(vendor.pk), vendor.slug)

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> "Actor":
        return cls(AuditEvent.ActorType.USER, str(user.pk), user.get_username())


def audit_event(
    *, actor: Actor, verb: str, target: Any, case_id: int | None = None, data: dict | None = None
) -> AuditEvent:
    """Build (unsaved) an audit event for `target` (a model instance)."""
    return AuditEvent(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        case_id=case_id,
        data=data or {},
    )


def record_event(
    *, actor: Actor, verb: str, target: Any, case_id: int | None = None, data: dict | None = None
) -> AuditEvent:
    event = audit_event(actor=actor, verb=verb, target=target, case_id=case_id, data=data)
    event.save()
    return event


def record_events(events: list[AuditEvent]) -> None:
    AuditEvent.objects.bulk_create(events)
