"""The velocity counters as the case page shows them: labelled, hinting at nothing the viewer may not see."""

from dataclasses import dataclass

from django.utils import timezone

from cases.counters import catalogue
from cases.counters.buckets import live_counters
from cases.counters.point_in_time import counters_at
from cases.models import Subject


@dataclass(frozen=True)
class VelocityReading:
    name: str
    label: str
    value: float


def velocity_panel(subject: Subject, *, cleared_for_restricted: bool) -> list[VelocityReading]:
    """Every counter for the case's subject, author and vendors, in the catalogue's order.

    Viewers cleared for restricted content see the live values. The others see the database's, counted
    without restricted subjects: an author's report count must not reveal a child-safety case the viewer
    cannot open (what they see is then exact rather than bucketed, at five aggregate queries).
    """
    if cleared_for_restricted:
        values = live_counters(subject)
    else:
        values = counters_at(subject, timezone.now(), open_only=True)
    return [VelocityReading(c.name, c.label, values[c.name]) for c in catalogue.COUNTERS]
