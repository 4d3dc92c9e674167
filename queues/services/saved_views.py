"""Header shortcuts that change state: a lead saves (or removes) a named queue filter for the team; an agent
stars (or unstars) a queue. Each one transaction with its audit event."""

from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from moderation.audit import Actor, Verb, record_event
from moderation.errors import Conflict, Forbidden, Invalid, NotFound
from queues.filters import CaseQueueFilter
from queues.models import Queue, QueueStar, SavedView
from queues.selectors import visible_queue_ids

MAX_NAME = 80
# What a saved view keeps of a querystring: the filter's own fields, never the page number or anything else.
VIEW_FIELDS = tuple(name for name in CaseQueueFilter.base_filters)


def normalised_filter(querystring: str) -> str:
    """The querystring's filter fields, in a fixed order, empty ones left out; Invalid if the filter refuses
    them (so a saved view always opens a page that works)."""
    given = QueryDict(querystring or "")
    kept = [(name, given.get(name, "").strip()) for name in VIEW_FIELDS if given.get(name, "").strip()]
    form = CaseQueueFilter(QueryDict(urlencode(kept)), queryset=Queue.objects.none()).form
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise Invalid(
            _("The filter is not valid (%(field)s: %(errors)s).")
            % {"field": field, "errors": " ".join(errors)},
            field="querystring",
        )
    return urlencode(kept)


@transaction.atomic(durable=True)
def save_view(*, user, queue: Queue, name: str, querystring: str) -> SavedView:
    """Save the queue page's filter under `name` for everyone who may see the queue. Leads only
    (`queues.add_savedview`); a name already used on the queue is a Conflict. Audited (`saved_view.created`)."""
    if queue.pk not in visible_queue_ids(user):
        raise NotFound(_("No such queue."), field="queue")
    if not (user.is_superuser or user.has_perm("queues.add_savedview")):
        raise Forbidden(_("Only leads save views for the team."), field="name")
    name = " ".join((name or "").split())
    if not name:
        raise Invalid(_("Give the view a name."), field="name")
    if len(name) > MAX_NAME:
        raise Invalid(_("Keep the name under %(max)d characters.") % {"max": MAX_NAME}, field="name")
    query = normalised_filter(querystring)
    try:
        with transaction.atomic():
            view = SavedView.objects.create(queue=queue, name=name, querystring=query, created_by=user)
    except IntegrityError:
        raise Conflict(
            _("This queue already has a view called “%(name)s”.") % {"name": name}, field="name"
        ) from None
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.SAVED_VIEW_CREATED,
        target=view,
        data={"queue": queue.slug, "name": name, "filter": query},
    )
    return view


@transaction.atomic(durable=True)
def delete_view(*, user, view_id: int) -> None:
    """Remove a saved view (leads, `queues.delete_savedview`). Audited (`saved_view.deleted`)."""
    view = SavedView.objects.select_for_update().select_related("queue").filter(pk=view_id).first()
    if view is None or view.queue_id not in visible_queue_ids(user):
        raise NotFound(_("No such saved view."), field="view")
    if not (user.is_superuser or user.has_perm("queues.delete_savedview")):
        raise Forbidden(_("Only leads remove saved views."), field="view")
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.SAVED_VIEW_DELETED,
        target=view,
        data={"queue": view.queue.slug, "name": view.name, "filter": view.querystring},
    )
    view.delete()


@transaction.atomic(durable=True)
def set_queue_star(*, user, queue: Queue, starred: bool) -> bool:
    """Star (or unstar) a queue the user may see; True if that changed anything. Audited only on a change
    (`queue.starred` / `queue.unstarred`), so a double click writes one event."""
    if queue.pk not in visible_queue_ids(user):
        raise NotFound("No such queue.", field="queue")
    if starred:
        _, changed = QueueStar.objects.get_or_create(user=user, queue=queue)
    else:
        changed = QueueStar.objects.filter(user=user, queue=queue).delete()[0] > 0
    if changed:
        record_event(
            actor=Actor.for_user(user),
            verb=Verb.QUEUE_STARRED if starred else Verb.QUEUE_UNSTARRED,
            target=queue,
            data={"queue": queue.slug},
        )
    return changed
