"""What an agent does on a case: decide, escalate, note, tag, reveal media, be present.

Every write is one transaction with its audit event. Decisions and escalations take the case version the
agent saw (optimistic locking): if the case was decided, claimed by someone else or moved meanwhile, they
raise CaseConflict and change nothing, so nothing is silently overwritten.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from cases.models import Case, CaseNote, CaseViewer, Decision, Subject, SubjectTag, Tag
from cases.services.effects import decision_takes_effect
from cases.services.enforcement import NOT_ENFORCED
from cases.services.messages import compose_user_message
from moderation.audit import Actor, Verb, record_event
from moderation.models import Action, Policy
from queues.models import Queue
from queues.selectors import can_view_case, visible_cases

MAX_TEXT = 5000


class ReviewError(Exception):
    """Refused input: `field` names the form field, `message` says why (shown inline)."""

    def __init__(self, message: str, *, field: str = "__all__"):
        super().__init__(message)
        self.message = message
        self.field = field


class CaseNotVisible(Exception):
    """No such case for this user (the edge answers 404: existence is not confirmed)."""


@dataclass
class CaseConflict(Exception):
    """The case changed since the agent loaded it; `message` says what happened."""

    message: str
    case: Case

    def __str__(self) -> str:
        return self.message


def _lock_visible_case(case_id: int, user) -> Case:
    # One look-up among the cases the user may see: a restricted case answers exactly as a missing id does
    # (same path, same queries), so its existence is never confirmed.
    case = (
        visible_cases(user)
        .select_for_update(of=("self",))
        .select_related("assignee", "queue", "subject", "policy")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise CaseNotVisible(case_id)
    return case


def _check_can_act(
    case: Case, user, expected_version: int | None, now: datetime, *, must_hold: bool = False
) -> None:
    if case.status == Case.Status.RESOLVED:
        last = (
            case.decisions.filter(mode=Decision.Mode.LIVE, review_state__in=Decision.IN_FORCE)
            .select_related("decided_by", "action")
            .first()
        )
        who = _decider_label(last)
        raise CaseConflict(f"This case was already decided{who}.", case)
    if case.assignee_id not in (None, user.pk) and case.lease_is_live(now):
        raise CaseConflict(f"{case.assignee.get_username()} is reviewing this case now.", case)
    if must_hold and not (case.assignee_id == user.pk and case.lease_is_live(now)):
        # A case is decided by the agent holding it: keys pressed on a case one only browses decide nothing.
        raise CaseConflict("Claim this case before deciding it (you are only viewing it).", case)
    if expected_version is not None and expected_version != case.version:
        raise CaseConflict(
            "This case changed while you had it open (claimed, moved or updated). Reload it and check again.",
            case,
        )


def _decider_label(decision: Decision | None) -> str:
    if decision is None:
        return ""
    who = (
        "automation"
        if decision.automated
        else (decision.decided_by.get_username() if decision.decided_by else "")
    )
    return f" ({decision.action.name} by {who})" if who else f" ({decision.action.name})"


def _clean_text(value: str, *, field: str, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ReviewError("This field is required.", field=field)
    if len(value) > MAX_TEXT:
        raise ReviewError(f"Keep it under {MAX_TEXT} characters.", field=field)
    if "\x00" in value:
        raise ReviewError("Text may not contain NUL characters.", field=field)
    return value


@transaction.atomic
def record_decision(
    *,
    case_id: int,
    user,
    policy_id: int | None,
    action_id: int | None,
    reason: str = "",
    notes: str = "",
    expected_version: int | None,
    subject_version: int | None = None,
    must_hold: bool = True,
) -> Decision:
    """Record an agent's decision on the case they hold. Audited. Returns the decision.

    - Normally the case is resolved and the decision takes effect (enforcement on commit, strike):
      `decision.recorded`.
    - Under a policy that requires a second review, an enforcing decision waits for another agent
      (`pending_confirmation`, nothing enforced yet): `decision.awaiting_confirmation`.
    - On a case awaiting confirmation, a different agent's decision overturns the pending one and is final
      (`decision.overturned`); the first decider may not (ReviewError).
    `reason` is the text for the user and reporter; `notes` stay internal. The action must be active and
    allowed under the (active) policy ("no violation" always is); escalation has its own service.
    `subject_version` is the content version the agent decided on (default: the one the case shows); the
    decision records it and its author, which enforcement, the strike and an appeal then use. Only the agent
    holding the case decides it (`must_hold`; a lead's bulk decision is the one exception). Raises
    ReviewError (bad input), CaseConflict (the case changed meanwhile, or is not held) or CaseNotVisible.
    """
    now = timezone.now()
    case = _lock_visible_case(case_id, user)
    _check_can_act(case, user, expected_version, now, must_hold=must_hold)
    if case.kind == Case.Kind.APPEAL:
        raise ReviewError("An appeal is upheld or overturned, not decided again.", field="action")
    _refuse_if_protected(case, user)
    policy = Policy.objects.filter(pk=policy_id, is_active=True).first() if policy_id else None
    if policy is None:
        raise ReviewError("Choose a policy.", field="policy")
    # "No violation" is always possible, whatever the policy allows; other actions must be allowed under it.
    action = (
        Action.objects.filter(pk=action_id, is_active=True)
        .filter(Q(kind=Action.Kind.NO_VIOLATION) | Q(pk__in=policy.allowed_actions.values("pk")))
        .first()
        if action_id
        else None
    )
    if action is None:
        raise ReviewError(f"Choose one of the actions allowed under {policy.name}.", field="action")
    if action.kind == Action.Kind.ESCALATE:
        raise ReviewError("Use Escalate to send the case to another queue.", field="action")
    reason = _clean_text(reason, field="reason")
    notes = _clean_text(notes, field="notes")
    evidence = _evidence_decided_on(case, subject_version)
    preview = compose_user_message(
        subject=case.subject, policy=policy, action=action, reason=reason, decision_id=None
    )
    if preview.unfilled:
        raise ReviewError(
            f"The message to the user still has {', '.join(preview.unfilled)}: write a reason, or ask an "
            "admin to fix the message template.",
            field="reason",
        )
    actor = Actor.for_user(user)
    overturned = None
    if case.status == Case.Status.PENDING_CONFIRMATION:
        # A second reviewer deciding otherwise overturns the pending decision; theirs is final.
        overturned = _pending_decision(case)
        _refuse_own_review(overturned, user)
    needs_second_review = (
        overturned is None and action.kind not in NOT_ENFORCED and _requires_second_review(case, policy)
    )
    decision = Decision.objects.create(
        case=case,
        policy=policy,
        action=action,
        mode=Decision.Mode.LIVE,
        automated=False,
        decided_by=user,
        reason=reason,
        notes=notes,
        subject_version=evidence.version,
        author_id=evidence.author_id,
        review_state=Decision.ReviewState.PENDING if needs_second_review else Decision.ReviewState.FINAL,
    )
    decision.user_message = compose_user_message(
        subject=case.subject, policy=policy, action=action, reason=reason, decision_id=decision.pk
    ).text
    Decision.objects.filter(pk=decision.pk).update(user_message=decision.user_message)
    data = {
        "policy": policy.code,
        "action": action.code,
        "queue": case.queue.slug if case.queue_id else None,
        "subject_version": evidence.version,
        "author_id": evidence.author_id,
    }
    if overturned is not None:
        _close_review(overturned, user, Decision.ReviewState.OVERTURNED, now)
        record_event(
            actor=actor,
            verb=Verb.DECISION_OVERTURNED,
            target=overturned,
            case_id=case.pk,
            data={"by_decision": decision.pk, "first_decider": overturned.decided_by_id},
        )
    if needs_second_review:
        move_case_on(case, status=Case.Status.PENDING_CONFIRMATION, now=now)
        record_event(
            actor=actor, verb=Verb.DECISION_AWAITING_CONFIRMATION, target=decision, case_id=case.pk, data=data
        )
        return decision
    move_case_on(case, status=Case.Status.RESOLVED, now=now)
    decision_takes_effect(decision)  # enforcement (delivered on commit) and the author's strike
    record_event(actor=actor, verb=Verb.DECISION_RECORDED, target=decision, case_id=case.pk, data=data)
    return decision


@transaction.atomic
def confirm_decision(*, case_id: int, user, expected_version: int | None) -> Decision:
    """A second agent confirms the pending decision: it becomes final and takes effect. Audited.

    The agent who made the decision can never confirm it (ReviewError); the case must still be waiting for
    confirmation and unchanged since the page was loaded (CaseConflict otherwise).
    """
    now = timezone.now()
    case = _lock_visible_case(case_id, user)
    if case.status != Case.Status.PENDING_CONFIRMATION:
        if case.status == Case.Status.RESOLVED:
            _check_can_act(case, user, expected_version, now)  # raises: says who decided
        raise CaseConflict("This case is not waiting for a confirmation any more.", case)
    _check_can_act(case, user, expected_version, now, must_hold=True)
    _refuse_if_protected(case, user)
    pending = _pending_decision(case)
    _refuse_own_review(pending, user)
    _close_review(pending, user, Decision.ReviewState.CONFIRMED, now)
    move_case_on(case, status=Case.Status.RESOLVED, now=now)
    decision_takes_effect(pending)
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.DECISION_CONFIRMED,
        target=pending,
        case_id=case.pk,
        data={"first_decider": pending.decided_by_id, "action": pending.action.code},
    )
    return pending


def _evidence_decided_on(case: Case, subject_version: int | None):
    """The content version a decision is taken on: one the case's reports carried (or the one it shows)."""
    from cases.evidence import case_evidence

    evidence = case_evidence(case)
    if subject_version is None:
        return evidence.shown.version
    chosen = evidence.get(subject_version)
    if chosen is None:
        raise ReviewError("Choose one of the content versions shown on this case.", field="subject_version")
    return chosen.version


def _requires_second_review(case: Case, policy: Policy) -> bool:
    """Four eyes when the chosen policy, the case's policy or any policy it was reported under asks for it:
    choosing another policy never skips the second review."""
    from cases.models import Report

    return (
        policy.requires_second_review
        or (case.policy_id is not None and case.policy.requires_second_review)
        or Report.objects.filter(case=case, policy__requires_second_review=True).exists()
    )


def protected_tags(subject_id: int) -> list[str]:
    return list(
        SubjectTag.objects.filter(subject_id=subject_id, tag__is_protected=True)
        .order_by("tag__slug")
        .values_list("tag__slug", flat=True)
    )


def can_act_on_protected(user) -> bool:
    return user.is_superuser or user.has_perm("cases.act_on_protected")


def _refuse_if_protected(case: Case, user) -> None:
    if can_act_on_protected(user):
        return
    tags = protected_tags(case.subject_id)
    if tags:
        raise ReviewError(
            f"This subject is protected ({', '.join(tags)}): only leads can act on it. Escalate it instead.",
            field="__all__",
        )


def move_case_on(case: Case, *, status: str, now, also: tuple[str, ...] = ()) -> None:
    """Save the case's new status after a decision, confirmation, escalation or appeal outcome: nobody holds
    it any more, a resolution is timestamped, and the version moves on (open forms become conflicts).
    `also` names other fields the caller changed, saved in the same UPDATE."""
    case.status = status
    fields = ["status", "assignee", "lease_expires_at", "claimed_at", "version", "updated_at", *also]
    if status == Case.Status.RESOLVED:
        case.resolved_at = now
        fields.append("resolved_at")
    case.assignee = None
    case.lease_expires_at = None
    case.claimed_at = None
    case.version += 1
    case.save(update_fields=fields)


def _pending_decision(case: Case) -> Decision:
    pending = (
        case.decisions.filter(review_state=Decision.ReviewState.PENDING)
        .select_related("action", "policy", "decided_by")
        .order_by("-created_at", "-id")
        .first()
    )
    if pending is None:  # a pending case always has one; refuse rather than guess
        raise CaseConflict("No decision is waiting for confirmation on this case.", case)
    return pending


def _refuse_own_review(pending: Decision, user) -> None:
    if pending.decided_by_id == user.pk:
        raise ReviewError(
            "You made this decision; a different agent must confirm or overturn it (four eyes).",
            field="__all__",
        )


def _close_review(decision: Decision, user, state: str, now) -> None:
    Decision.objects.filter(pk=decision.pk, review_state=Decision.ReviewState.PENDING).update(
        review_state=state, reviewed_by=user, reviewed_at=now
    )


@transaction.atomic
def escalate_case(
    *, case_id: int, user, queue_id: int | None, note: str, expected_version: int | None
) -> Case:
    """Send the case to another queue with a note (e.g. to specialists); it waits there, escalated.

    The agent need not be a member of the target queue (escalating to a restricted team is the point).
    Audited (`case.escalated`); the note is kept as an internal escalation note.
    """
    now = timezone.now()
    case = _lock_visible_case(case_id, user)
    _check_can_act(case, user, expected_version, now)
    target = Queue.objects.filter(pk=queue_id, is_active=True).first() if queue_id else None
    if target is None:
        raise ReviewError("Choose the queue to escalate to.", field="queue")
    if case.is_restricted and not target.is_restricted:
        raise ReviewError("This case is restricted: escalate it to a restricted queue only.", field="queue")
    note = _clean_text(note, field="note", required=True)
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
    case = _lock_visible_case(case_id, user)
    body = _clean_text(body, field="body", required=True)
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
    """Tag the case's subject; an unknown tag is created as a free (non-curated) one. Audited."""
    case = _lock_visible_case(case_id, user)
    slug = normalise_tag(tag)
    tag_obj, _ = Tag.objects.get_or_create(slug=slug)
    if tag_obj.is_protected and not can_act_on_protected(user):
        raise ReviewError(f"Only leads can add the protected tag {slug}.", field="tag")
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
    case = _lock_visible_case(case_id, user)
    if Tag.objects.filter(slug=tag, is_protected=True).exists() and not can_act_on_protected(user):
        raise ReviewError(f"Only leads can remove the protected tag {tag}.", field="tag")
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
    from cases.evidence import shown_content

    media = shown_content(case).media_urls or []
    if not 0 <= index < len(media):
        raise ReviewError("No such media item.", field="index")
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.MEDIA_REVEALED,
        target=case,
        case_id=case.pk,
        data={"index": index, "url": str(media[index])[:2048]},
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


@dataclass
class BulkOutcome:
    decided: list[int]
    skipped: dict[int, str]


BULK_LIMIT = 1000


def bulk_decide(
    *, user, case_ids: list[int], policy_id: int | None, action_id: int | None, reason: str = ""
) -> BulkOutcome:
    """A lead applies one policy and action to many cases (up to BULK_LIMIT). Each case is decided through
    `record_decision` in its own transaction, so each is validated, audited and enforced on its own; a case
    that cannot be decided (gone, held by someone, already decided, protected...) is skipped with the reason.
    The batch itself is audited (`bulk.decided`)."""
    if not (user.is_superuser or user.has_perm("cases.bulk_decide")):
        raise ReviewError("Only leads can decide cases in bulk.", field="__all__")
    ids = list(dict.fromkeys(case_ids))[:BULK_LIMIT]
    if not ids:
        raise ReviewError("Select at least one case.", field="cases")
    # What is the same for every case is checked once, before anything is written; after that nothing may
    # refuse the batch (earlier cases are already committed), so every per-case refusal is a skip.
    policy = Policy.objects.filter(pk=policy_id, is_active=True).first() if policy_id else None
    if policy is None:
        raise ReviewError("Choose a policy.", field="policy")
    action = (
        Action.objects.filter(pk=action_id, is_active=True)
        .filter(Q(kind=Action.Kind.NO_VIOLATION) | Q(pk__in=policy.allowed_actions.values("pk")))
        .exclude(kind=Action.Kind.ESCALATE)
        .first()
        if action_id
        else None
    )
    if action is None:
        raise ReviewError(f"Choose one of the actions allowed under {policy.name}.", field="action")
    reason = _clean_text(reason, field="reason")
    outcome = BulkOutcome(decided=[], skipped={})
    try:
        for case_id in ids:
            try:
                record_decision(
                    case_id=case_id,
                    user=user,
                    policy_id=policy.pk,
                    action_id=action.pk,
                    reason=reason,
                    notes="Bulk decision.",
                    expected_version=None,
                    must_hold=False,  # a lead's deliberate batch: the permission is the safeguard
                )
            except ReviewError as exc:
                outcome.skipped[case_id] = exc.message
            except CaseConflict as exc:
                outcome.skipped[case_id] = exc.message
            except CaseNotVisible:
                outcome.skipped[case_id] = "No such case."
            else:
                outcome.decided.append(case_id)
    finally:
        # Written whatever happened: the decisions already committed must be traceable to this batch.
        record_event(
            actor=Actor.for_user(user),
            verb=Verb.BULK_DECIDED,
            target=user,
            data={
                "policy": policy.pk,
                "action": action.pk,
                "decided": outcome.decided,
                "skipped": {str(key): value for key, value in outcome.skipped.items()},
            },
        )
    return outcome


@transaction.atomic
def set_reporter_muted(*, case_id: int, user, report_id: int, muted: bool, reason: str = ""):
    """A lead mutes (or unmutes) the reporter of a report on a case they can see. Muted reporters' later
    reports are stored and shown but do not raise priority. Audited (`reporter.muted` / `reporter.unmuted`)."""
    from cases.models import Report, Reporter

    if not (user.is_superuser or user.has_perm("cases.mute_reporter")):
        raise ReviewError("Only leads can mute reporters.", field="__all__")
    case = _lock_visible_case(case_id, user)
    report = Report.objects.filter(pk=report_id, case=case).exclude(reporter_id="").first()
    if report is None:
        raise ReviewError("That report has no reporter to mute.", field="report")
    reporter, _ = Reporter.objects.get_or_create(vendor_id=report.vendor_id, reporter_id=report.reporter_id)
    reporter.muted_at = timezone.now() if muted else None
    reporter.muted_by = user if muted else None
    reporter.mute_reason = _clean_text(reason, field="reason")[:200] if muted else ""
    reporter.save(update_fields=["muted_at", "muted_by", "mute_reason"])
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.REPORTER_MUTED if muted else Verb.REPORTER_UNMUTED,
        target=reporter,
        case_id=case.pk,
        data={"vendor": report.vendor_id, "reporter": report.reporter_id},
    )
    return reporter
