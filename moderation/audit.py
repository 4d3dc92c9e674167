"""Writing the append-only audit log. Call inside the transaction of the change being audited."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from moderation.audit_verbs import Verb, known_verb
from moderation.models import AuditEvent, Vendor

__all__ = ["Actor", "Verb", "audit_event", "record_event", "record_events"]


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
    *, actor: Actor, verb: Verb, target: Any, case_id: int | None = None, data: dict | None = None
) -> AuditEvent:
    """Build (unsaved) an audit event for `target` (a model instance).

    `verb` is a `Verb`; a verb the enumeration does not list is refused (ValueError) before anything is
    written. (A plain string equal to a member's value passes, for callers not yet moved to `Verb.X`.)
    """
    return AuditEvent(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        verb=known_verb(verb).value,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        case_id=case_id,
        data=data or {},
    )


def record_event(
    *, actor: Actor, verb: Verb, target: Any, case_id: int | None = None, data: dict | None = None
) -> AuditEvent:
    event = audit_event(actor=actor, verb=verb, target=target, case_id=case_id, data=data)
    event.save()
    return event


def record_events(events: list[AuditEvent]) -> None:
    """Save events built with `audit_event` (their verbs already checked) in one INSERT."""
    AuditEvent.objects.bulk_create(events)
