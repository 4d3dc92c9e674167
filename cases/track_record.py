"""Read side: track records, of authors (active strikes) and of reporters (judged reports, mutes).

Routing's priority and rules, the case page and the decision's effects read these; nothing here writes.
"""

from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from cases.models import Report, Reporter, Strike


def active_strike_count(author_id: str, *, at: datetime | None = None) -> int:
    """Strikes in force against the author now, or (`at`) as they stood then: issued by `at`, neither
    removed nor expired by then (a strike removed later still counted at the time)."""
    if not author_id:
        return 0
    if at is None:
        return (
            Strike.objects.filter(author_id=author_id, removed_at__isnull=True)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .count()
        )
    return (
        Strike.objects.filter(author_id=author_id, created_at__lte=at)
        .filter(Q(removed_at__isnull=True) | Q(removed_at__gt=at))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at))
        .count()
    )


# A reporter's track record counts once they have this many judged reports.
MIN_JUDGED_FOR_ACCURACY = 5


def reporter_weight(case_id: int) -> tuple[int, float]:
    """(muted reporters on the case, track-record factor 0..1 for the others) for the priority score.

    The factor is the mean smoothed accuracy ((upheld + 1) / (judged + 2)) of the case's unmuted reporters
    with enough judged reports; 1.0 when none has a record yet, so new reporters are not penalised.
    """
    pairs = list(
        Report.objects.filter(case_id=case_id)
        .exclude(reporter_id="")
        .values_list("vendor_id", "reporter_id")
        .distinct()[:200]
    )
    if not pairs:
        return 0, 1.0
    muted = 0
    accuracies = []
    for reporter in reporters_for(pairs).values():
        if reporter.muted_at is not None:
            muted += 1
        elif reporter.judged >= MIN_JUDGED_FOR_ACCURACY:
            accuracies.append((reporter.upheld_count + 1) / (reporter.judged + 2))
    return muted, (sum(accuracies) / len(accuracies)) if accuracies else 1.0


def reporters_for(pairs) -> dict:
    """(vendor id, reporter id) → Reporter for the given pairs that have a record. Two IN lists and a filter
    in Python: cheaper to build than an OR of one clause per pair."""
    pairs = set(pairs)
    if not pairs:
        return {}
    candidates = Reporter.objects.filter(
        vendor_id__in={vendor_id for vendor_id, _ in pairs},
        reporter_id__in={reporter_id for _, reporter_id in pairs},
    )
    return {(r.vendor_id, r.reporter_id): r for r in candidates if (r.vendor_id, r.reporter_id) in pairs}
