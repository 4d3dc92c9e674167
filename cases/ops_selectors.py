"""Read-side figures for operators' metrics (`/metrics`): queue backlog and deliveries, counted at scrape time.

Operators are trusted with every queue, restricted ones included, but these are counts per queue slug and per
state only: no case, subject or content ever reaches a label.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q

from cases.models import Case, Enforcement, VendorCallback
from queues.models import Queue


@dataclass(frozen=True)
class QueueBacklog:
    queue: str
    restricted: bool
    depth: int
    oldest_opened_at: datetime | None
    sla_breached: int


@dataclass(frozen=True)
class DeliveryStates:
    kind: str
    by_state: dict[str, int]
    oldest_pending_at: datetime | None


def queue_backlog(*, now: datetime) -> list[QueueBacklog]:
    """Unresolved cases per active queue (zero for an empty one): how many, the oldest, how many are past their
    SLA. One query, one row per queue, whatever the backlog (grouped over the unresolved-cases indexes)."""
    unresolved = ~Q(cases__status=Case.Status.RESOLVED)
    rows = (
        Queue.objects.filter(is_active=True)
        .annotate(
            depth=Count("cases", filter=unresolved),
            oldest=Min("cases__opened_at", filter=unresolved),
            breached=Count("cases", filter=unresolved & Q(cases__sla_due_at__lt=now)),
        )
        .values_list("slug", "is_restricted", "depth", "oldest", "breached")
        .order_by("slug")
    )
    return [QueueBacklog(*row) for row in rows]


def delivery_states() -> list[DeliveryStates]:
    """Outbox messages (enforcements to the platform, callbacks to vendors) by state, and the oldest still
    pending: one grouped query per kind over their (state, created_at) columns."""
    figures = []
    for kind, model in (("enforcement", Enforcement), ("vendor_callback", VendorCallback)):
        rows = (
            model.objects.order_by()
            .values_list("state")
            .annotate(count=Count("id"), oldest=Min("created_at"))
        )
        by_state = {state: 0 for state in model.State.values}
        oldest_pending = None
        for state, count, oldest in rows:
            by_state[state] = count
            if state == model.State.PENDING:
                oldest_pending = oldest
        figures.append(DeliveryStates(kind, by_state, oldest_pending))
    return figures
