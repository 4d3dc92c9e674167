"""Appeals: the affected user contests a decision; an agent who had no part in it upholds or overturns it.

Filing (vendor/platform API) opens an appeal case in the appeals queue on the same subject, with the original
decision, the evidence and the statement side by side. Overturning sends a reversing enforcement (same
webhook, `enforcement.reverse`) and removes the author's strike. Each step is one transaction, audited.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from cases.models import Appeal, Case, Decision, Report, Strike, SubjectVersion
from cases.services.enforcement import NOT_ENFORCED, create_enforcement
from cases.services.review.common import (
    CaseConflict,
    ReviewError,
    check_can_act,
    clean_text,
    lock_visible_case,
    move_case_on,
    refuse_if_protected,
)
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, Forbidden, NotFound
from moderation.models import Vendor
from queues.models import Queue


@dataclass(frozen=True)
class FiledAppeal:
    appeal: Appeal
    created: bool


def appeals_queue(*, restricted: bool = False) -> Queue:
    """The appeals queue; appeals of restricted cases (child safety...) get the restricted one, never the
    open one. Both exist from the start (a migration, with the Leads team as members)."""
    if restricted:
        queue, _ = Queue.objects.get_or_create(
            slug=settings.APPEALS_RESTRICTED_QUEUE_SLUG,
            defaults={"name": "Appeals (restricted)", "sla_hours": 72, "is_restricted": True},
        )
        if not queue.is_restricted:  # an admin un-restricted it: restricted content still never goes there
            raise Conflict(
                "The restricted appeals queue is not restricted; ask an admin.", field="decision_id"
            )
        return queue
    queue, _ = Queue.objects.get_or_create(
        slug=settings.APPEALS_QUEUE_SLUG,
        defaults={"name": "Appeals", "sla_hours": 72, "description": "Users contesting decisions."},
    )
    return queue


def _payload_hash(decision_id: int, statement: str, appellant_id: str) -> str:
    body = json.dumps([decision_id, statement, appellant_id], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def file_appeal(
    *, vendor: Vendor, external_id: str, decision_id: int, statement: str, appellant_id: str = ""
) -> FiledAppeal:
    """Open an appeal case for a decision the vendor reported on. Idempotent per (vendor, external_id):
    a replay returns the same appeal; a different body under the same key, or a second appeal of the same
    decision, is refused (Conflict, naming the appeal already there). A decision the vendor did not report on
    is NotFound, exactly as a missing one (not confirmed to exist).
    """
    digest = _payload_hash(decision_id, statement, appellant_id)
    existing = Appeal.objects.filter(vendor=vendor, external_id=external_id).first()
    if existing is not None:
        if existing.payload_hash != digest:
            raise Conflict(
                "This external_id was used for a different appeal.", field="external_id", existing=existing.pk
            )
        return FiledAppeal(existing, created=False)
    # One look-up: a decision this vendor has no part in answers exactly as a missing one.
    decision = (
        Decision.objects.select_related("case__subject", "policy", "action")
        .filter(pk=decision_id, mode=Decision.Mode.LIVE)
        .filter(judged_by(vendor))
        .first()
    )
    if decision is None:
        raise NotFound("No such decision.", field="decision_id")
    if decision.review_state not in Decision.IN_FORCE or decision.action.kind in NOT_ENFORCED:
        raise Conflict(
            "Only a decision in force that acted on the subject can be appealed.", field="decision_id"
        )
    try:
        with transaction.atomic():
            appeal = _open_appeal(vendor, external_id, decision, statement, appellant_id, digest)
    except IntegrityError:
        # A concurrent filing won (same key or same decision): answer as the replay or the conflict it is.
        again = Appeal.objects.filter(vendor=vendor, external_id=external_id).first()
        if again is not None and again.payload_hash == digest:
            return FiledAppeal(again, created=False)
        # Another vendor's appeal is not named: its id is that vendor's business.
        own = Appeal.objects.filter(decision=decision, vendor=vendor).first()
        raise Conflict(
            "This decision has already been appealed.", field="decision_id", existing=own.pk if own else None
        ) from None
    return FiledAppeal(appeal, created=True)


def judged_by(vendor: Vendor) -> Q:
    """Decisions whose appeal belongs to `vendor`: it supplied the content version they were taken on (the
    first to send those exact words and author), or it is the platform's own feed (`is_content_authority`)
    and a party to the case. Repeating someone else's content, or naming only the subject id, gives no say
    in the appeal, so no third party can file (and so block) the affected user's appeal. Decisions from before
    versions were recorded: any vendor whose report brought content."""
    carried = Report.objects.filter(case_id=OuterRef("case_id"), vendor=vendor, carried_content=True)
    judged = SubjectVersion.objects.filter(
        subject_id=OuterRef("case__subject_id"), version=OuterRef("subject_version")
    )
    # A version kept without its supplier (stored before suppliers were recorded) falls back to carrying it.
    supplied = Exists(judged.filter(vendor=vendor)) | ~Exists(judged.exclude(vendor__isnull=True))
    condition = Exists(carried.filter(subject_version=OuterRef("subject_version"))) & supplied
    if vendor.is_content_authority:
        condition |= Exists(carried)
    return condition | (Q(subject_version__isnull=True) & Exists(carried))


def _open_appeal(vendor, external_id, decision, statement, appellant_id, digest) -> Appeal:
    if Appeal.objects.filter(decision=decision).exists():
        raise IntegrityError("already appealed")
    now = timezone.now()
    restricted = decision.case.is_restricted
    queue = appeals_queue(restricted=restricted)
    case = Case.objects.create(
        subject=decision.case.subject,
        is_restricted=restricted,
        kind=Case.Kind.APPEAL,
        policy=decision.policy,
        queue=queue,
        status=Case.Status.OPEN,
        priority=20.0 * decision.policy.severity,
        sla_due_at=now + timedelta(hours=queue.sla_hours or 72),
        routed_at=now,
        enriched_at=now,
        last_reported_at=now,
    )
    appeal = Appeal.objects.create(
        vendor=vendor,
        external_id=external_id,
        decision=decision,
        appeal_case=case,
        appellant_id=appellant_id,
        statement=statement,
        payload_hash=digest,
    )
    record_event(
        actor=Actor.for_vendor(vendor),
        verb=Verb.APPEAL_FILED,
        target=appeal,
        case_id=case.pk,
        data={"decision": decision.pk, "original_case": decision.case_id},
    )
    return appeal


@transaction.atomic
def resolve_appeal(*, case_id: int, user, outcome: str, reason: str, expected_version: int | None) -> Appeal:
    """Uphold or overturn. Never by the agent who made or confirmed the decision (Forbidden).

    Overturn: a reversing enforcement for the original decision and the author's strike removed.
    """
    now = timezone.now()
    case = lock_visible_case(case_id, user)
    if case.kind != Case.Kind.APPEAL:
        raise ReviewError("This is not an appeal case.", field="outcome")
    check_can_act(case, user, expected_version, now, must_hold=True)
    refuse_if_protected(case, user)
    if outcome not in (Appeal.State.UPHELD, Appeal.State.OVERTURNED):
        raise ReviewError("Choose uphold or overturn.", field="outcome")
    reason = clean_text(reason, field="reason")
    appeal = Appeal.objects.select_related("decision__action", "decision__policy").get(appeal_case=case)
    if appeal.state != Appeal.State.OPEN:
        raise CaseConflict("This appeal was already decided.", case)
    decision = appeal.decision
    if user.pk in (decision.decided_by_id, decision.reviewed_by_id):
        raise Forbidden(
            "You made or confirmed the decision under appeal; another agent must review it.", field="outcome"
        )
    appeal.state = outcome
    appeal.outcome_reason = reason
    appeal.resolved_by = user
    appeal.resolved_at = now
    appeal.save(update_fields=["state", "outcome_reason", "resolved_by", "resolved_at"])
    if outcome == Appeal.State.OVERTURNED:
        create_enforcement(decision=decision, kind="reverse")
        Strike.objects.filter(decision=decision, removed_at__isnull=True).update(
            removed_at=now, removed_reason=f"appeal {appeal.pk} overturned"
        )
    move_case_on(case, status=Case.Status.RESOLVED, now=now)
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.APPEAL_UPHELD if outcome == Appeal.State.UPHELD else Verb.APPEAL_OVERTURNED,
        target=appeal,
        case_id=case.pk,
        data={"decision": decision.pk, "original_case": decision.case_id},
    )
    return appeal
