"""Working a case besides deciding it: escalating, notes, tags, media reveals, presence, muting a reporter.

Every write is one transaction with its audit event (presence is not audited: views are).
"""

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.evidence import shown_content
from cases.models import Case, CaseNote, CaseViewer, Report, Reporter, Subject, SubjectTag, Tag
from cases.selectors import media_url_hash
from cases.services.review.common import (
    CaseNotVisible,
    ReviewError,
    can_act_on_protected,
    check_can_act,
    clean_text,
    lock_visible_case,
    move_case_on,
)
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Forbidden
from queues.models import Queue
from queues.selectors import can_view_case


@transaction.atomic
def escalate_case(
    *, case_id: int, user, queue_id: int | None, note: str, expected_version: int | None
) -> Case:
    """Send the case to another queue with a note (e.g. to specialists); it waits there, escalated.

    The agent need not be a member of the target queue (escalating to a restricted team is the point).
    Audited (`case.escalated`); the note is kept as an internal escalation note.
    """
    now = timezone.now()
    case = lock_visible_case(case_id, user)
    check_can_act(case, user, expected_version, now)
    target = Queue.objects.filter(pk=queue_id, is_active=True).first() if queue_id else None
    if target is None:
        raise ReviewError("Choose the queue to escalate to.", field="queue")
    if case.is_restricted and not target.is_restricted:
        raise ReviewError("This case is restricted: escalate it to a restricted queue only.", field="queue")
    note = clean_text(note, field="note", required=True)
    previous_queue = case.queue.slug if case.queue_id else None
    case.queue = target
    move_case_on(case, status=Case.Status.ESCALATED, now=now, also=("queue",))
    CaseNote.objects.create(case=case, author=user, kind=CaseNote.Kind.ESCALATION, body=note)
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.CASE_ESCALATED,
        target=case,
        case_id=case.pk,
        data={"from_queue": previous_queue, "to_queue": target.slug},
    )
    return case


@transaction.atomic
def add_case_note(*, case_id: int, user, body: str) -> CaseNote:
    """An internal note for the team (never sent to the user). Audited (`case.note_added`)."""
    case = lock_visible_case(case_id, user)
    body = clean_text(body, field="body", required=True)
    note = CaseNote.objects.create(case=case, author=user, body=body)
    record_event(actor=Actor.for_user(user), verb=Verb.CASE_NOTE_ADDED, target=note, case_id=case.pk)
    return note


TAG_RE = re.compile(r"^[a-z0-9][a-z0-9:_.\-]{0,63}$")


def normalise_tag(text: str) -> str:
    slug = re.sub(r"\s+", "-", (text or "").strip().lower())
    if not TAG_RE.fullmatch(slug):
        raise ReviewError(
            "Tags use lower-case letters, digits and - _ . : (up to 64 characters), e.g. lang:de.",
            field="tag",
        )
    return slug


@transaction.atomic
def tag_subject(*, case_id: int, user, tag: str) -> Tag:
    """Tag the case's subject; an unknown tag is created as a free (non-curated) one. Audited. Protected
    tags are for leads only (Forbidden)."""
    case = lock_visible_case(case_id, user)
    slug = normalise_tag(tag)
    tag_obj, _ = Tag.objects.get_or_create(slug=slug)
    if tag_obj.is_protected and not can_act_on_protected(user):
        raise Forbidden(f"Only leads can add the protected tag {slug}.", field="tag")
    try:
        with transaction.atomic():
            SubjectTag.objects.create(subject_id=case.subject_id, tag=tag_obj, added_by=user)
    except IntegrityError:
        return tag_obj  # already tagged: nothing to do
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.SUBJECT_TAGGED,
        target=Subject(pk=case.subject_id),
        case_id=case.pk,
        data={"tag": slug},
    )
    return tag_obj


@transaction.atomic
def untag_subject(*, case_id: int, user, tag: str) -> bool:
    case = lock_visible_case(case_id, user)
    if Tag.objects.filter(slug=tag, is_protected=True).exists() and not can_act_on_protected(user):
        raise Forbidden(f"Only leads can remove the protected tag {tag}.", field="tag")
    deleted, _ = SubjectTag.objects.filter(subject_id=case.subject_id, tag__slug=tag).delete()
    if deleted:
        record_event(
            actor=Actor.for_user(user),
            verb=Verb.SUBJECT_UNTAGGED,
            target=Subject(pk=case.subject_id),
            case_id=case.pk,
            data={"tag": tag},
        )
    return bool(deleted)


@transaction.atomic
def reveal_media(*, case_id: int, user, index: int) -> str:
    """An agent chose to look at a media item unblurred: the audit log records who saw what, when."""
    case = Case.objects.select_related("subject").filter(pk=case_id).first()
    if case is None or not can_view_case(user, case):
        raise CaseNotVisible(case_id)

    media = shown_content(case).media_urls or []
    if not 0 <= index < len(media):
        raise ReviewError("No such media item.", field="index")
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.MEDIA_REVEALED,
        target=case,
        case_id=case.pk,
        # The URL's hash, not the URL: the audit log is append-only and outlives a retention purge, which
        # must take the content's media URLs with it. The hash still names the copy that was seen.
        data={"index": index, "url_sha256": media_url_hash(str(media[index]))},
    )
    return media[index]


def record_media_served(*, case_id: int, user, index: int) -> None:
    """A copy of a media item was sent to this user's browser (shown blurred until they reveal it)."""
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.MEDIA_SERVED,
        target=Case(pk=case_id),
        case_id=case_id,
        data={"index": index},
    )


def touch_presence(*, case_id: int, user) -> None:
    """The user has the case page open (heartbeat). One upsert; presence is not audited (views are)."""
    CaseViewer.objects.update_or_create(case_id=case_id, user=user, defaults={"last_seen_at": timezone.now()})


@transaction.atomic
def set_reporter_muted(*, case_id: int, user, report_id: int, muted: bool, reason: str = ""):
    """A lead mutes (or unmutes) the reporter of a report on a case they can see. Muted reporters' later
    reports are stored and shown but do not raise priority. Audited (`reporter.muted` / `reporter.unmuted`).
    Forbidden for anyone but a lead."""
    if not (user.is_superuser or user.has_perm("cases.mute_reporter")):
        raise Forbidden("Only leads can mute reporters.")
    case = lock_visible_case(case_id, user)
    report = Report.objects.filter(pk=report_id, case=case).exclude(reporter_id="").first()
    if report is None:
        raise ReviewError("That report has no reporter to mute.", field="report")
    reporter, _ = Reporter.objects.get_or_create(vendor_id=report.vendor_id, reporter_id=report.reporter_id)
    reporter.muted_at = timezone.now() if muted else None
    reporter.muted_by = user if muted else None
    reporter.mute_reason = clean_text(reason, field="reason")[:200] if muted else ""
    reporter.save(update_fields=["muted_at", "muted_by", "mute_reason"])
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.REPORTER_MUTED if muted else Verb.REPORTER_UNMUTED,
        target=reporter,
        case_id=case.pk,
        data={"vendor": report.vendor_id, "reporter": report.reporter_id},
    )
    return reporter
