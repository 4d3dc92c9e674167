"""The database twin of the velocity counters: each counter as it stood at any moment `at`, counting exactly
(at - window, at] and never anything after `at`, so a backtest sees what a rule would have seen then."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import CharField, Count, Q, Value
from django.db.models.functions import Cast, Concat

from cases.counters import catalogue
from cases.counters.catalogue import (
    AUTHOR,
    BANK_HITS,
    BANK_SOURCE,
    NEW_SUBJECTS,
    REPORTERS,
    REPORTS,
    SUBJECT,
    VENDOR,
    VelocityCounter,
)
from cases.models import Report, Signal, Subject


def _of(scope: str, event: str) -> list[VelocityCounter]:
    return [counter for counter in catalogue.COUNTERS if counter.scope == scope and counter.event in event]


def _window_counts(queryset, time_field: str, counters: list[VelocityCounter], at: datetime, reporter=None):
    """One aggregate query: each counter's count over its own window ending at `at` (inclusive)."""
    if not counters:
        return {}
    widest = max(counter.window for counter in counters)
    rows = queryset.filter(**{f"{time_field}__gt": at - widest, f"{time_field}__lte": at})
    aggregates = {}
    for index, counter in enumerate(counters):
        in_window = Q(**{f"{time_field}__gt": at - counter.window})
        if counter.distinct:
            aggregates[f"c{index}"] = Count(reporter, filter=in_window, distinct=True)
        else:
            aggregates[f"c{index}"] = Count("pk", filter=in_window)
    result = rows.order_by().aggregate(**aggregates)
    return {counter.name: float(result[f"c{index}"] or 0) for index, counter in enumerate(counters)}


def _reporter_expression():
    return Concat(Cast("vendor_id", CharField()), Value(":"), "reporter_id", output_field=CharField())


def counters_at(
    subject: Subject, at: datetime, *, vendor_ids: Iterable[int] | None = None, open_only: bool = False
) -> dict[str, float]:
    """Every counter as it stood at `at`, from the database: events in (at - window, at] only.

    At most five aggregate queries whatever the history (author reports, new subjects, bank hits, subject
    reports, vendor reports). `vendor_ids` default: the vendors that had reported the subject by `at`.
    `open_only` leaves restricted subjects out of the author and vendor counts: what a viewer not cleared for
    restricted content may be shown (no count may hint at a child-safety case they cannot see).
    """
    values = dict.fromkeys((c.name for c in catalogue.COUNTERS), 0.0)
    reporter = _reporter_expression()
    author = subject.author_id
    open_subjects = Q(subject__is_restricted=False) if open_only else Q()
    if author:
        values |= _window_counts(
            Report.objects.filter(open_subjects, subject__author_id=author).annotate(reporter_key=reporter),
            "received_at",
            _of(AUTHOR, (REPORTS, REPORTERS)),
            at,
            reporter="reporter_key",
        )
        subjects = Subject.objects.filter(author_id=author)
        values |= _window_counts(
            subjects.filter(is_restricted=False) if open_only else subjects,
            "first_seen_at",
            _of(AUTHOR, (NEW_SUBJECTS,)),
            at,
        )
        signals = Signal.objects.filter(source=BANK_SOURCE, case__subject__author_id=author)
        values |= _window_counts(
            signals.filter(case__subject__is_restricted=False) if open_only else signals,
            "created_at",
            _of(AUTHOR, (BANK_HITS,)),
            at,
        )
    values |= _window_counts(
        Report.objects.filter(subject=subject).annotate(reporter_key=reporter),
        "received_at",
        _of(SUBJECT, (REPORTS, REPORTERS)),
        at,
        reporter="reporter_key",
    )
    values |= _vendor_counts(subject, at, vendor_ids, open_subjects)
    return values


def _vendor_counts(
    subject: Subject, at: datetime, vendor_ids: Iterable[int] | None, open_subjects: Q
) -> dict[str, float]:
    """The busiest of the vendors' report rates: one grouped query (the vendors' own look-up is a subquery)."""
    counters = _of(VENDOR, (REPORTS,))
    if not counters:
        return {}
    if vendor_ids is None:
        vendors = Report.objects.filter(subject=subject, received_at__lte=at).values("vendor_id")
    else:
        vendors = sorted(set(vendor_ids))
        if not vendors:
            return {counter.name: 0.0 for counter in counters}
    widest = max(counter.window for counter in counters)
    aggregates = {
        f"c{index}": Count("pk", filter=Q(received_at__gt=at - counter.window))
        for index, counter in enumerate(counters)
    }
    rows = list(
        Report.objects.filter(
            open_subjects, vendor_id__in=vendors, received_at__gt=at - widest, received_at__lte=at
        )
        .order_by()
        .values("vendor_id")
        .annotate(**aggregates)
    )
    return {
        counter.name: float(max((row[f"c{index}"] for row in rows), default=0))
        for index, counter in enumerate(counters)
    }
