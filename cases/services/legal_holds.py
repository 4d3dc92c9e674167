"""Legal holds: a lead keeps a case's or a subject's content past its retention (litigation, a request from
law enforcement), with a reason, audited; released the same way. A hold never deletes or changes content."""

from django.db import transaction
from django.utils import timezone

from cases.models import Case, LegalHold, Subject
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, Forbidden, Invalid, NotFound

MAX_REASON = 300


def _check(user, reason: str) -> str:
    if not (user.is_superuser or user.has_perm("cases.place_legal_hold")):
        raise Forbidden("Only leads place and release legal holds.", field="hold")
    reason = " ".join((reason or "").split())
    if not reason:
        raise Invalid("Say why (a matter, a request reference).", field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"Keep the reason under {MAX_REASON} characters.", field="reason")
    return reason


def _lock_subject(subject_id: int) -> Subject:
    # The purge takes the same row lock: a hold placed while a purge of the subject runs waits for it, and
    # one placed first makes the purge's re-check under the lock find the subject held.
    subject = Subject.objects.select_for_update().filter(pk=subject_id).first()
    if subject is None:
        raise NotFound("No such subject.")
    return subject


@transaction.atomic(durable=True)
def place_legal_hold(
    *, user, reason: str, case_id: int | None = None, subject_id: int | None = None
) -> LegalHold:
    """Hold a case (`case_id`) or a subject and all its cases (`subject_id`): their content is not purged
    while the hold is active. Leads only (Forbidden); a reason is required (Invalid, field `reason`); a
    second hold on the same target is a Conflict. Audited (`legal_hold.placed`)."""
    reason = _check(user, reason)
    if (case_id is None) == (subject_id is None):
        raise Invalid("Hold a case or a subject.", field="hold")
    case = None
    if case_id is not None:
        case = Case.objects.filter(pk=case_id).only("pk", "subject_id").first()
        if case is None:
            raise NotFound("No such case.")
        subject_id = case.subject_id
    subject = _lock_subject(subject_id)
    target = {"case": case} if case is not None else {"subject": subject}
    if LegalHold.objects.filter(released_at__isnull=True, **target).exists():
        raise Conflict("Already on legal hold.", field="hold")
    hold = LegalHold.objects.create(reason=reason, placed_by=user, placed_at=timezone.now(), **target)
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.LEGAL_HOLD_PLACED,
        target=hold,
        case_id=case.pk if case is not None else None,
        data={"reason": reason, "on": "case" if case is not None else "subject", "subject": str(subject)},
    )
    return hold


@transaction.atomic(durable=True)
def release_legal_hold(*, user, hold_id: int, reason: str) -> LegalHold:
    """Release an active hold, with a reason (leads only). Purging may follow on the next run if nothing
    else holds the content. Releasing a released hold is a Conflict. Audited (`legal_hold.released`)."""
    reason = _check(user, reason)
    hold = LegalHold.objects.filter(pk=hold_id).select_related("case").first()
    if hold is None:
        raise NotFound("No such legal hold.")
    _lock_subject(hold.subject_id or hold.case.subject_id)
    released = LegalHold.objects.filter(pk=hold.pk, released_at__isnull=True).update(
        released_at=timezone.now(), released_by=user, release_reason=reason
    )
    if not released:
        raise Conflict("That hold was already released.", field="hold")
    hold.refresh_from_db()
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.LEGAL_HOLD_RELEASED,
        target=hold,
        case_id=hold.case_id,
        data={"reason": reason, "on": "case" if hold.case_id else "subject", "placed_reason": hold.reason},
    )
    return hold
