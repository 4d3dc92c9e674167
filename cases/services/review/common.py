"""What every service that changes a case shares: finding it, checking the agent may act on it now, clean
text, the protection of high-profile subjects, and moving the case on after a decision.

The refusals are the domain kinds (`moderation.errors`): bad input is a `ReviewError` (Invalid), a case that
changed meanwhile a `CaseConflict`, a case the user may not see `CaseNotVisible` (NotFound), an action only
leads may take `Forbidden`.
"""

from datetime import datetime

from django.db.models import Q, StringAgg, Value

from cases.models import Case, Decision, Subject, protection_reasons
from moderation.errors import Conflict, Forbidden, Invalid, NotFound
from queues.selectors import visible_cases

MAX_TEXT = 5000


class ReviewError(Invalid):
    """Refused input: `field` names the form field, `message` says why (shown inline)."""


class CaseNotVisible(NotFound):
    """No such case for this user (the edge answers 404: existence is not confirmed)."""

    def __init__(self, case_id: int):
        super().__init__("No such case.", field="case")
        self.case_id = case_id


class CaseConflict(Conflict):
    """The case changed since the agent loaded it; `message` says what happened, `case` is the case now."""

    def __init__(self, message: str, case: Case):
        super().__init__(message, existing=case.pk)
        self.case = case


def lock_visible_case(case_id: int, user) -> Case:
    """The case, row-locked for the transaction, among those the user may see (CaseNotVisible otherwise).

    What a service then asks of the case (its protected tags, its reports' policies, its decisions) it asks in
    statements of its own, after the lock: a subquery of this statement would read the snapshot taken before
    it waited for the lock, and miss what the lock's holder committed meanwhile (a protected tag `tag_subject`
    added, a four-eyes report intake filed without a new version)."""
    # One look-up among the cases the user may see: a restricted case answers exactly as a missing id does
    # (same path, same queries), so its existence is never confirmed.
    case = (
        visible_cases(user)
        .select_for_update(of=("self",))
        # Not the assignee: only a refusal names them (one query then), and every decision would load them.
        .select_related("queue", "subject", "policy")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise CaseNotVisible(case_id)
    # A lock that waited gets the row as its holder committed it, but PostgreSQL keeps the joined rows of the
    # older snapshot (EvalPlanQual): a policy or queue changed meanwhile comes back as the old one or none.
    # Drop those; they load afresh on first use.
    for name in ("queue", "subject", "policy"):
        wanted = getattr(case, f"{name}_id")
        joined = case._state.fields_cache.get(name)
        if wanted is not None and (joined is None or joined.pk != wanted):
            case._state.fields_cache.pop(name, None)
    return case


def check_can_act(
    case: Case, user, expected_version: int | None, now: datetime, *, must_hold: bool = False
) -> None:
    """CaseConflict unless `user` may change the case now: not decided, not held by someone else (live
    lease), held by them if `must_hold`, and still at the version they saw (None: not checked)."""
    if case.status == Case.Status.RESOLVED:
        last = (
            case.decisions.filter(mode=Decision.Mode.LIVE, review_state__in=Decision.IN_FORCE)
            .select_related("decided_by", "action")
            .first()
        )
        raise CaseConflict(f"This case was already decided{decider_label(last)}.", case)
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


def decider_label(decision: Decision | None) -> str:
    if decision is None:
        return ""
    who = (
        "automation"
        if decision.automated
        else (decision.decided_by.get_username() if decision.decided_by else "")
    )
    return f" ({decision.action.name} by {who})" if who else f" ({decision.action.name})"


def clean_text(value: str, *, field: str, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ReviewError("This field is required.", field=field)
    if len(value) > MAX_TEXT:
        raise ReviewError(f"Keep it under {MAX_TEXT} characters.", field=field)
    if "\x00" in value:
        raise ReviewError("Text may not contain NUL characters.", field=field)
    return value


def protection_of(subject_id: int) -> list[str]:
    """Why the subject is protected, read afresh (after the case lock, never from its joined snapshot): the
    lead's reason when the subject is marked protected (`Subject.is_protected`), then its protected tags in
    slug order; empty when it is neither. One statement."""
    row = (
        Subject.objects.filter(pk=subject_id)
        .annotate(
            protected_tags=StringAgg(
                "subject_tags__tag__slug",
                Value(","),
                filter=Q(subject_tags__tag__is_protected=True),
            )
        )
        .values_list("is_protected", "protected_reason", "protected_tags")
        .first()
    )
    if row is None:
        return []
    flagged, reason, tags = row
    # Tag slugs cannot hold a comma (`TAG_SLUG_VALIDATOR`), so the aggregate splits back exactly.
    return protection_reasons(flagged, reason, tags.split(",") if tags else [])


def can_act_on_protected(user) -> bool:
    return user.is_superuser or user.has_perm("cases.act_on_protected")


class ProtectedSubject(Forbidden):
    """The subject is protected: a batch (bulk or campaign decision) never decides it, and of people only
    leads do, one case at a time."""


def refuse_if_protected(case: Case, user, *, batch: bool = False) -> None:
    """ProtectedSubject when the case's subject is protected (marked so by a lead, or a protected tag) and
    `user` is not a lead, or whoever they are in a `batch`: people other than leads escalate such subjects,
    and a lead decides them case by case, never in a bulk or campaign decision (which read the protection
    when planned, unlocked: this is the check under the case's lock)."""
    # The subject first: most are not protected, and then the user's permissions need not be loaded.
    reasons = protection_of(case.subject_id)
    if reasons and batch:
        raise ProtectedSubject(
            f"This subject is protected ({'; '.join(reasons)}): it is decided case by case, not in a batch."
        )
    if reasons and not can_act_on_protected(user):
        raise ProtectedSubject(
            f"This subject is protected ({'; '.join(reasons)}): only leads can act on it. Escalate it instead."
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
