"""A lead takes over a case another agent holds, or hands it to another eligible agent (audited).

The previous holder is told by their page: its heartbeat finds the case no longer theirs and says so (and any
decision they still post is refused as a conflict, since the case's version moved on).
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case
from cases.models.case import CLAIMABLE_STATUSES
from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, Forbidden, Invalid, NotFound
from queues.selectors import can_view_case, visible_cases, visible_queue_ids
from queues.services.claims import lease_length


def can_reassign(user) -> bool:
    return user.is_superuser or user.has_perm("cases.reassign_case")


def eligible_agents(case: Case) -> list:
    """Active people who may work the case, in one query: members of its queue (directly or through a
    group) and, for a restricted queue, with a live clearance for it. A hint for the form: the service checks
    the chosen person with the visibility rules used everywhere else (`can_view_case`)."""
    if case.queue_id is None or (case.is_restricted and not case.queue.is_restricted):
        return []
    people = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(review_queues=case.queue_id) | Q(groups__review_queues=case.queue_id))
    )
    if case.queue.is_restricted:
        people = people.filter(
            Q(queue_clearances__queue=case.queue_id)
            & (
                Q(queue_clearances__expires_at__isnull=True)
                | Q(queue_clearances__expires_at__gt=timezone.now())
            )
        )
    return list(people.distinct().order_by("username")[:100])


@transaction.atomic(durable=True)
def reassign_case(*, case_id: int, user, to_user_id: int, expected_version: int | None = None) -> Case:
    """Give the case (open, escalated or waiting for a confirmation, held or not) to `to_user_id` with a
    fresh lease; `to_user_id == user.pk` is a take-over. Forbidden for anyone but a lead; Invalid when the
    agent may not work the case (not a member of its queue, not cleared for it); Conflict when the case was
    decided or changed meanwhile. Audited (`case.taken_over` / `case.reassigned`, naming the previous holder).
    """
    if not can_reassign(user):
        raise Forbidden(_("Only leads can take over or reassign a case."))
    now = timezone.now()
    case = (
        visible_cases(user)
        .select_for_update(of=("self",))
        .select_related("assignee", "queue")
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFound(_("No such case."), field="case")
    if case.status not in CLAIMABLE_STATUSES:
        raise Conflict(_("This case was decided: there is nothing to take over."), existing=case.pk)
    if expected_version is not None and expected_version != case.version:
        raise Conflict(
            _("This case changed while you had it open. Reload it and check again."), existing=case.pk
        )
    target = get_user_model().objects.filter(pk=to_user_id, is_active=True).first() if to_user_id else None
    if target is None or not (
        target.pk == user.pk or (case.queue_id in visible_queue_ids(target) and can_view_case(target, case))
    ):
        raise Invalid(
            _("Choose an agent who works this case's queue (and is cleared for it)."), field="assignee"
        )
    previous = case.assignee if case.assignee_id and case.lease_is_live(now) else None
    if previous is not None and previous.pk == target.pk:
        raise Conflict(
            _("%(agent)s already holds this case.") % {"agent": target.get_username()}, existing=case.pk
        )
    case.assignee = target
    case.claimed_at = now
    case.lease_expires_at = now + lease_length()
    case.version += 1
    if case.status == Case.Status.OPEN:
        case.status = Case.Status.IN_REVIEW  # as a claim would (an escalated or awaiting case keeps its own)
    case.save(update_fields=["assignee", "claimed_at", "lease_expires_at", "version", "status", "updated_at"])
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.CASE_TAKEN_OVER if target.pk == user.pk else Verb.CASE_REASSIGNED,
        target=case,
        case_id=case.pk,
        data={
            "from": previous.get_username() if previous else None,
            "to": target.get_username(),
            "queue": case.queue.slug if case.queue_id else None,
        },
    )
    return case
