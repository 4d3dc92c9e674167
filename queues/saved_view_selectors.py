"""Read side of the header shortcuts: the queues a user starred and the team's saved views, only on queues
the user may see (a view on a queue someone left disappears with the queue)."""

from dataclasses import dataclass

from queues.models import Queue, QueueStar, SavedView
from queues.selectors import visible_queue_ids

MAX_SHORTCUTS = 30


@dataclass
class Shortcuts:
    starred: list[Queue]
    views: list[SavedView]


def header_shortcuts(user) -> Shortcuts:
    """Two queries (plus the memoised queue access), at most `MAX_SHORTCUTS` of each."""
    visible = visible_queue_ids(user)
    starred = list(Queue.objects.filter(stars__user=user, pk__in=visible).order_by("name")[:MAX_SHORTCUTS])
    views = list(
        SavedView.objects.filter(queue_id__in=visible)
        .select_related("queue")
        .order_by("queue__name", "name")[:MAX_SHORTCUTS]
    )
    return Shortcuts(starred=starred, views=views)


def queue_saved_views(queue: Queue) -> list[SavedView]:
    return list(SavedView.objects.filter(queue=queue).order_by("name")[:MAX_SHORTCUTS])


def is_starred(user, queue: Queue) -> bool:
    known = getattr(queue, "starred_for", {})  # `selectors.queue_for_user` already asked
    if user.pk in known:
        return known[user.pk]
    return QueueStar.objects.filter(user=user, queue=queue).exists()
