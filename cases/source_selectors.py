"""Read side of the Reporters & vendors dashboard: who sends reports, how often they are right, who is muted.

Vendor volume and accuracy come from the hourly roll-ups (`cases.models.oversight`), limited to cases the
viewer may see. Reporters' track records are the platform's own (`Reporter`: upheld and rejected counts kept
by every final decision, the same numbers the case page and routing's priority read), all time, less the
judgements on cases the viewer may not see: a lead not cleared for child safety learns neither who reports
there nor how often they were upheld.
Accuracy is the upheld share of judged reports: upheld / (upheld + rejected).
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum

from cases.models import Report, Reporter, ReportHour
from cases.oversight_selectors import bucket_trunc, visible_hours
from moderation.charts import PALETTE, Chart, Series
from moderation.models import Vendor
from moderation.periods import Period
from queues.selectors import visible_case_condition, visible_cases

TOP_REPORTERS = 20
# Candidates read (by all-time judged reports, on the index) for each place on the list, so that reporters
# who drop out or fall back once hidden judgements are taken away leave the list full and in order.
CANDIDATES_PER_PLACE = 3
MUTED_SHOWN = 50


@dataclass(frozen=True)
class VendorFigures:
    name: str
    reports: int
    upheld: int
    rejected: int

    @property
    def accuracy(self) -> float | None:
        judged = self.upheld + self.rejected
        return round(100 * self.upheld / judged, 1) if judged else None


def vendor_figures(user, period: Period, queue_ids=None) -> tuple[Chart, Chart, list[VendorFigures]]:
    """(reports per bucket by vendor, accuracy per vendor, the figures per vendor), from two queries."""
    rows = visible_hours(ReportHour, user, period, queue_ids)
    per_bucket: dict = defaultdict(int)
    for row in (
        rows.annotate(b=bucket_trunc(period, "hour"))
        .values("b", "vendor_id")
        .annotate(n=Sum("reports"))
        .order_by()
    ):
        per_bucket[(row["b"], row["vendor_id"])] += row["n"] or 0
    totals = {
        row["vendor_id"]: row
        for row in rows.values("vendor_id")
        .annotate(reports=Sum("reports"), upheld=Sum("upheld"), rejected=Sum("rejected"))
        .order_by()
    }
    names = dict(Vendor.objects.filter(pk__in=list(totals)).values_list("pk", "name"))
    figures = sorted(
        (
            (
                vendor_id,
                VendorFigures(names.get(vendor_id, str(vendor_id)), t["reports"], t["upheld"], t["rejected"]),
            )
            for vendor_id, t in totals.items()
        ),
        key=lambda pair: (-pair[1].reports, pair[1].name),
    )
    buckets = period.buckets()
    # The biggest senders get their own colour; the rest are summed, so the chart stays legible.
    shown, rest = figures[: PALETTE - 1], figures[PALETTE - 1 :]
    series = [Series(f.name, [per_bucket[(b, vendor_id)] for b in buckets]) for vendor_id, f in shown]
    if rest:
        series.append(Series("Other vendors", [sum(per_bucket[(b, v)] for v, _ in rest) for b in buckets]))
    volume = Chart(
        slug="reports-by-vendor",
        title="Reports by vendor",
        x_labels=[period.label(b) for b in buckets],
        series=series,
        kind="stacked",
        unit="reports",
        x_title="Period",
    )
    accuracy = Chart(
        slug="vendor-accuracy",
        title="Vendor accuracy (upheld share of judged reports)",
        x_labels=[f.name for _, f in figures],
        series=[Series("Accuracy", [f.accuracy for _, f in figures])],
        kind="bar",
        unit="%",
        x_title="Vendor",
    )
    return volume, accuracy, [f for _, f in figures]


def vendor_table(figures: list[VendorFigures]) -> Chart:
    """The per-vendor figures as a table with its CSV (not drawn)."""
    return Chart(
        slug="vendor-figures",
        title="Vendors",
        x_labels=[f.name for f in figures],
        series=[
            Series("Reports", [f.reports for f in figures]),
            Series("Upheld", [f.upheld for f in figures]),
            Series("Rejected", [f.rejected for f in figures]),
            Series("Accuracy (%)", [f.accuracy for f in figures]),
        ],
        x_title="Vendor",
    )


def top_reporters(user, *, limit: int = TOP_REPORTERS) -> list[Reporter]:
    """Reporters with the most judged reports (the `reporter_judged_idx` expression index), counting only
    their reports on cases `user` may see (three queries). The counts on the returned rows are those."""
    unrestricted = visible_case_condition(user) is None
    candidates = list(
        Reporter.objects.select_related("vendor")
        .annotate(judged_total=F("upheld_count") + F("rejected_count"))
        .filter(judged_total__gt=0)
        .order_by((F("upheld_count") + F("rejected_count")).desc(), "pk")[
            : limit if unrestricted else limit * CANDIDATES_PER_PLACE
        ]
    )
    if unrestricted or not candidates:
        return candidates
    who = Q(pk__in=[])
    for reporter in candidates:
        who |= Q(vendor_id=reporter.vendor_id, reporter_id=reporter.reporter_id)
    hidden = {
        (row["vendor_id"], row["reporter_id"]): row
        for row in Report.objects.filter(who, outcome__in=(Report.Outcome.UPHELD, Report.Outcome.REJECTED))
        .exclude(case__in=visible_cases(user))
        .values("vendor_id", "reporter_id")
        .annotate(
            upheld=Count("id", filter=Q(outcome=Report.Outcome.UPHELD)),
            rejected=Count("id", filter=Q(outcome=Report.Outcome.REJECTED)),
        )
        .order_by()
    }
    shown = []
    for reporter in candidates:
        row = hidden.get((reporter.vendor_id, reporter.reporter_id))
        if row is not None:
            reporter.upheld_count = max(0, reporter.upheld_count - row["upheld"])
            reporter.rejected_count = max(0, reporter.rejected_count - row["rejected"])
        if reporter.judged:
            shown.append(reporter)
    shown.sort(key=lambda r: (-r.judged, r.pk))
    return shown[:limit]


def reporter_table(reporters: list[Reporter]) -> Chart:
    return Chart(
        slug="top-reporters",
        title="Top reporters (most judged reports, all time)",
        x_labels=[f"{r.vendor.name}: {r.reporter_id}" for r in reporters],
        series=[
            Series("Judged", [r.judged for r in reporters]),
            Series("Upheld", [r.upheld_count for r in reporters]),
            Series("Rejected", [r.rejected_count for r in reporters]),
            Series(
                "Accuracy (%)",
                [round(100 * r.accuracy, 1) if r.accuracy is not None else None for r in reporters],
            ),
            Series("Muted", ["yes" if r.muted_at else "" for r in reporters]),
        ],
        x_title="Reporter",
    )


def muted_reporters(*, limit: int = MUTED_SHOWN) -> tuple[int, list[Reporter]]:
    """(how many reporters are muted, the most recently muted ones)."""
    muted = Reporter.objects.filter(muted_at__isnull=False)
    return muted.count(), list(
        muted.select_related("vendor", "muted_by").order_by("-muted_at", "-pk")[:limit]
    )
