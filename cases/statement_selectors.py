"""Reads over DSA statements of reasons: the failing list, exports and the transparency report.

Every read takes the cases the reader may see (`queues.selectors.visible_cases(user)`, or every case for the
command line) and counts only statements on them, so a restricted queue's restrictions never show in a
count, a row or an export to someone not cleared for it.
"""

import csv
import json
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Min, QuerySet
from django.utils import timezone

from cases import statement_rules as rules
from cases.models import Appeal, Case, StatementOfReasons

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# CSV columns: every statement field, in the TDB's documented order.
CSV_FIELDS = (
    "puid", "decision_visibility", "decision_visibility_other", "decision_monetary", "decision_monetary_other",
    "decision_provision", "decision_account", "account_type", "decision_ground", "illegal_content_legal_ground",
    "illegal_content_explanation", "incompatible_content_ground", "incompatible_content_explanation",
    "incompatible_content_illegal", "content_type", "content_type_other", "category", "territorial_scope",
    "content_language", "content_date", "application_date", "end_date_visibility_restriction",
    "end_date_monetary_restriction", "end_date_service_restriction", "end_date_account_restriction",
    "decision_facts", "source_type", "source_identity", "automated_detection", "automated_decision",
)  # fmt: skip


def period_bounds(since: date, until: date | None) -> tuple[datetime, datetime]:
    """[since 00:00, until+1 00:00) in the current time zone; `until` defaults to today."""
    until = until or timezone.localdate()
    zone = timezone.get_current_timezone()
    return (
        datetime.combine(since, time.min, tzinfo=zone),
        datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone),
    )


def statements_in_period(cases: QuerySet[Case], *, since: date, until: date | None = None):
    start, end = period_bounds(since, until)
    return StatementOfReasons.objects.filter(
        case__in=cases, created_at__gte=start, created_at__lt=end
    ).order_by("created_at", "id")


def failing_statements(cases: QuerySet[Case], *, limit: int = 200) -> list[StatementOfReasons]:
    """Failed statements, newest first, for the leads' page (one query)."""
    return list(
        StatementOfReasons.objects.filter(case__in=cases, state=StatementOfReasons.State.FAILED)
        .select_related("decision__policy", "decision__action")
        .order_by("-created_at", "-id")[:limit]
    )


def statement_states(cases: QuerySet[Case]) -> dict[str, int]:
    rows = (
        StatementOfReasons.objects.filter(case__in=cases)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {state: 0 for state in StatementOfReasons.State.values}
    counts.update(dict(rows))
    return counts


def _cell(value) -> str:
    if value is None:
        return ""
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    # A spreadsheet would run "=HYPERLINK(...)" from a cell: such cells become plain text.
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def statements_csv(statements) -> Iterator[str]:
    """CSV lines, one statement a row (lists comma-joined), formula-safe."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_FIELDS)
    for payload in statements.values_list("payload", flat=True).iterator(chunk_size=500):
        yield writer.writerow([_cell(payload.get(name)) for name in CSV_FIELDS])


def statements_json(statements) -> Iterator[str]:
    """A JSON array of the statements exactly as submitted, streamed."""
    yield "["
    for index, payload in enumerate(statements.values_list("payload", flat=True).iterator(chunk_size=500)):
        yield ("," if index else "") + json.dumps(payload, ensure_ascii=False, sort_keys=True)
    yield "]\n"


@dataclass
class TransparencyReport:
    since: date
    until: date
    total: int = 0
    by_policy: list[tuple[str, int]] = field(default_factory=list)
    by_action: list[tuple[str, int]] = field(default_factory=list)
    by_ground: list[tuple[str, int]] = field(default_factory=list)
    by_source: list[tuple[str, int]] = field(default_factory=list)
    by_automation: list[tuple[str, int]] = field(default_factory=list)
    by_detection: list[tuple[str, int]] = field(default_factory=list)
    median_hours_to_action: float | None = None
    appeals: int = 0
    overturned: int = 0
    upheld: int = 0

    def sections(self) -> list[tuple[str, list[tuple[str, int]]]]:
        return [
            ("Policy", self.by_policy),
            ("Action", self.by_action),
            ("Ground", self.by_ground),
            ("Source", self.by_source),
            ("Automated decision", self.by_automation),
            ("Automated detection", self.by_detection),
        ]

    def csv_rows(self) -> list[list[str]]:
        rows = [["section", "value", "count"]]
        rows += [[section, _cell(value), str(n)] for section, pairs in self.sections() for value, n in pairs]
        rows += [
            ["Total", "restrictions", str(self.total)],
            [
                "Time to action",
                "median hours (first report to decision)",
                _hours(self.median_hours_to_action),
            ],
            ["Appeals", "filed", str(self.appeals)],
            ["Appeals", "upheld", str(self.upheld)],
            ["Appeals", "overturned", str(self.overturned)],
        ]
        return rows


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


_LABELS = {
    rules.ILLEGAL: "Illegal content",
    rules.INCOMPATIBLE: "Incompatible with terms",
    rules.ARTICLE_16: "Notice (Art. 16)",
    rules.TRUSTED_FLAGGER: "Trusted flagger",
    rules.VOLUNTARY: "Own initiative",
    rules.FULLY: "Fully automated",
    rules.PARTIALLY: "Partially automated",
    rules.NOT_AUTOMATED: "Not automated",
}


def transparency_report(
    cases: QuerySet[Case], *, since: date, until: date | None = None
) -> TransparencyReport:
    """Restrictions in the period (by statement), counted five ways, the median time from a case's first
    report to its decision, and the appeals filed against them in the period. Four queries."""
    until = until or timezone.localdate()
    statements = statements_in_period(cases, since=since, until=until)
    rows = list(
        statements.annotate(first_report=Min("case__reports__received_at")).values_list(
            "decision__policy__name",
            "decision__action__name",
            "decision_ground",
            "source_type",
            "automated_decision",
            "automated_detection",
            "decision__created_at",
            "first_report",
        )
    )
    report = TransparencyReport(since=since, until=until, total=len(rows))
    for index, name in enumerate(
        ("by_policy", "by_action", "by_ground", "by_source", "by_automation", "by_detection")
    ):
        counts = Counter(_label(row[index], index) for row in rows)
        setattr(report, name, sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])))
    waits = [(row[6] - row[7]).total_seconds() / 3600 for row in rows if row[7] is not None]
    report.median_hours_to_action = round(statistics.median(waits), 2) if waits else None
    start, end = period_bounds(since, until)
    appeals = dict(
        Appeal.objects.filter(
            decision__case__in=cases,
            decision__statement__isnull=False,
            created_at__gte=start,
            created_at__lt=end,
        )
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    report.appeals = sum(appeals.values())
    report.overturned = appeals.get(Appeal.State.OVERTURNED, 0)
    report.upheld = appeals.get(Appeal.State.UPHELD, 0)
    return report


def _label(value, index: int) -> str:
    if index == 5:
        return "Yes" if value else "No"
    return _LABELS.get(value, value) if isinstance(value, str) else str(value)
