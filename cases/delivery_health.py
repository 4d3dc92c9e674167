"""Read side: is the outbox delivering? Enforcements and vendor callbacks waiting, failing, given up.

- pending: not delivered yet, still being tried (includes failing);
- failing: pending after at least one failed attempt (backing off between tries);
- failed: given up after the kind's attempts; stays until a lead retries it (case page or admin);
- oldest undelivered: the earliest created row still pending or failed.
Only rows about cases the viewer may see count (`queues.selectors.can_view_case`, the rule of
`visible_cases`): a failing delivery of a restricted case says nothing to a lead who is not cleared for it.
The counts are shared by all viewers for a few seconds (`OUTBOX_STATS_CACHE_SECONDS`).
"""

from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace

from django.conf import settings
from django.core.cache import cache
from django.db.models import CharField, Count, F, Min, Q, Value
from django.db.models.functions import Cast

from cases.models import Enforcement, VendorCallback
from moderation.models import EnforcementEndpoint, Vendor
from queues.selectors import can_view_case

UNDELIVERED = ("pending", "failed")
ENFORCEMENT = "enforcement"


@dataclass(frozen=True)
class Deliveries:
    """Undelivered outbox rows for one destination (or all of them)."""

    destination: str
    pending: int = 0
    failing: int = 0
    failed: int = 0
    oldest_undelivered_at: datetime | None = None

    @property
    def is_alarming(self) -> bool:
        return bool(self.failing or self.failed)

    def __add__(self, other: "Deliveries") -> "Deliveries":
        oldest = [t for t in (self.oldest_undelivered_at, other.oldest_undelivered_at) if t is not None]
        return Deliveries(
            self.destination,
            self.pending + other.pending,
            self.failing + other.failing,
            self.failed + other.failed,
            min(oldest) if oldest else None,
        )


def _undelivered(model, destination):
    # Grouped by the two facts of a case that say who may see it, so one count serves every viewer.
    return (
        model.objects.filter(state__in=UNDELIVERED)
        .annotate(destination=destination, queue=F("case__queue_id"), restricted=F("case__is_restricted"))
        .values("destination", "queue", "restricted")
        .annotate(
            pending=Count("id", filter=Q(state="pending")),
            failing=Count("id", filter=Q(state="pending", attempts__gt=0)),
            failed=Count("id", filter=Q(state="failed")),
            oldest=Min("created_at"),
        )
        .order_by()
    )


def _all_undelivered() -> list[dict]:
    """Undelivered rows of every case per (destination, queue, restricted): one query (UNION ALL; callbacks
    per vendor, as the vendor's id in text so both halves have the same column type), shared by every lead
    for `OUTBOX_STATS_CACHE_SECONDS`. The header badge polls it on every lead's page, and counting a
    backlog joins each undelivered row to its case (~100 ms at 10,000 rows over 4M cases): once per few
    seconds for everybody, not once per lead per page."""

    def compute() -> list[dict]:
        enforcements = _undelivered(Enforcement, Value(ENFORCEMENT, output_field=CharField()))
        callbacks = _undelivered(VendorCallback, Cast("vendor_id", CharField()))
        return list(enforcements.union(callbacks, all=True).order_by())

    seconds = settings.OUTBOX_STATS_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    return cache.get_or_set("cases:undelivered:v1", compute, seconds)


def _visible(user) -> dict[str, Deliveries]:
    """Per destination, what `user` may see of the undelivered rows: the same rule as the case pages
    (`can_view_case` on each group's queue and restriction), the groups added up."""
    totals: dict[str, Deliveries] = {}
    for row in _all_undelivered():
        if not can_view_case(user, SimpleNamespace(queue_id=row["queue"], is_restricted=row["restricted"])):
            continue
        destination = row["destination"]
        group = Deliveries(destination, row["pending"], row["failing"], row["failed"], row["oldest"])
        totals[destination] = totals.get(destination, Deliveries(destination)) + group
    return totals


def delivery_alert(user) -> Deliveries:
    """Everything undelivered the user may see (one shared query): the banner on the lead dashboards."""
    return sum(_visible(user).values(), Deliveries("all"))


def delivery_health(user) -> list[Deliveries]:
    """Per destination: the active enforcement endpoint, then each vendor's callbacks (three queries, one
    of them shared)."""
    totals = _visible(user)
    vendor_ids = [int(destination) for destination in totals if destination != ENFORCEMENT]
    vendors = dict(Vendor.objects.filter(pk__in=vendor_ids).values_list("pk", "name"))
    endpoint = EnforcementEndpoint.objects.filter(is_active=True).values_list("name", flat=True).first()
    out = []
    for destination in sorted(totals, key=lambda d: (d != ENFORCEMENT, d)):
        if destination == ENFORCEMENT:
            name = f"Enforcements → {endpoint or 'no active endpoint'}"
        else:
            name = f"Callbacks → {vendors.get(int(destination), destination)}"
        out.append(replace(totals[destination], destination=name))
    return out
