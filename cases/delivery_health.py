"""Read side: is the outbox delivering? Enforcements and vendor callbacks waiting, failing, given up.

- pending: not delivered yet, still being tried (includes failing);
- failing: pending after at least one failed attempt (backing off between tries);
- failed: given up after the kind's attempts; stays until a lead retries it (case page or admin);
- oldest undelivered: the earliest created row still pending or failed.
Only rows about cases the viewer may see count (`queues.selectors.visible_cases`): a failing delivery of a
restricted case says nothing to a lead who is not cleared for it.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import CharField, Count, Min, Q, Value
from django.db.models.functions import Cast

from cases.models import Enforcement, VendorCallback
from moderation.models import EnforcementEndpoint, Vendor
from queues.selectors import visible_cases

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


def _undelivered(model, user, destination):
    rows = model.objects.filter(state__in=UNDELIVERED)
    if not user.is_superuser:
        rows = rows.filter(case__in=visible_cases(user))
    return (
        rows.annotate(destination=destination)
        .values("destination")
        .annotate(
            pending=Count("id", filter=Q(state="pending")),
            failing=Count("id", filter=Q(state="pending", attempts__gt=0)),
            failed=Count("id", filter=Q(state="failed")),
            oldest=Min("created_at"),
        )
        .order_by()
    )


def _rows(user) -> list[dict]:
    """One query (UNION ALL) for both kinds: enforcements as one destination, callbacks per vendor (as the
    vendor's id in text, so both halves have the same column type)."""
    enforcements = _undelivered(Enforcement, user, Value(ENFORCEMENT, output_field=CharField()))
    callbacks = _undelivered(VendorCallback, user, Cast("vendor_id", CharField()))
    return list(enforcements.union(callbacks, all=True).order_by())


def delivery_alert(user) -> Deliveries:
    """Everything undelivered the user may see, in one query: the banner on the lead dashboards."""
    total = Deliveries("all")
    for row in _rows(user):
        total = total + Deliveries("all", row["pending"], row["failing"], row["failed"], row["oldest"])
    return total


def delivery_health(user) -> list[Deliveries]:
    """Per destination: the active enforcement endpoint, then each vendor's callbacks (three queries)."""
    rows = _rows(user)
    vendor_ids = [int(row["destination"]) for row in rows if row["destination"] != ENFORCEMENT]
    vendors = dict(Vendor.objects.filter(pk__in=vendor_ids).values_list("pk", "name"))
    endpoint = EnforcementEndpoint.objects.filter(is_active=True).values_list("name", flat=True).first()
    out = []
    for row in sorted(rows, key=lambda r: (r["destination"] != ENFORCEMENT, r["destination"])):
        if row["destination"] == ENFORCEMENT:
            name = f"Enforcements → {endpoint or 'no active endpoint'}"
        else:
            name = f"Callbacks → {vendors.get(int(row['destination']), row['destination'])}"
        out.append(Deliveries(name, row["pending"], row["failing"], row["failed"], row["oldest"]))
    return out
