"""Protected subjects (a public figure, a news or government account, a partner): automation never acts on
them — routing sends their cases to people whatever a live rule says — and only leads decide them."""

from django.db import transaction

from cases.models import Subject
from moderation.audit import Actor, Verb, audit_event, record_events
from moderation.errors import Forbidden, Invalid

MAX_REASON = 200


@transaction.atomic
def set_subject_protection(*, subject_ids: list[int], protected: bool, reason: str, user) -> int:
    """Mark (or unmark) the subjects protected, with the reason; one audit event per subject that changed.

    Leads only (`cases.act_on_protected`): Forbidden otherwise. Protecting needs a reason (Invalid, field
    `reason`). Returns how many subjects changed; those already so are left alone (and not audited again).
    """
    if not (user.is_superuser or user.has_perm("cases.act_on_protected")):
        raise Forbidden("Only leads mark subjects protected.", field="subject")
    reason = " ".join((reason or "").split())
    if protected and not reason:
        raise Invalid("Say why the subject is protected.", field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"Keep the reason under {MAX_REASON} characters.", field="reason")
    changing = list(
        Subject.objects.select_for_update()
        .filter(pk__in=subject_ids)
        .exclude(is_protected=protected)
        .values_list("pk", "kind", "external_id")
    )
    ids = [pk for pk, _, _ in changing]
    Subject.objects.filter(pk__in=ids).update(
        is_protected=protected, protected_reason=reason if protected else ""
    )
    actor = Actor.for_user(user)
    verb = Verb.SUBJECT_PROTECTED if protected else Verb.SUBJECT_UNPROTECTED
    record_events(
        [
            audit_event(
                actor=actor,
                verb=verb,
                target=Subject(pk=pk, kind=kind, external_id=external_id),
                data={"reason": reason, "subject": f"{kind}:{external_id}"},
            )
            for pk, kind, external_id in changing
        ]
    )
    return len(changing)
