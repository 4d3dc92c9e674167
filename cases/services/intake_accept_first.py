"""Accept-first intake (`Prefer: respond-async`): a report is stored durably in one statement and answered
`202` with its id; the grouper (`group_accepted_reports`) makes the waiting ones reports in bulk, through the
same `accept_reports` as a plain POST, within `INTAKE_GROUP_DELAY_SECONDS` (plus the grouping itself).

Why: a plain POST does ~10 statements (subject lock, versions, case, report, signals, audit, commit), each a
round trip; accepting is one (`INSERT ... SELECT`, autocommit), and the grouper's work per report is a
batch's, a fixed number of statements per 500 reports.

Guarantees, as a plain POST's:
- Idempotent by key: the insert skips a key already used by a report or an accepted one (unique
  `(vendor, external_id)` on both tables); the caller then gets that one's ids (`duplicate`) or a conflict.
- The id is reserved from the reports' own id sequence and the report it becomes keeps it, so the id in the
  202 is the one `GET /api/v1/reports/{id}` answers for, before and after grouping.
- Exactly once: the grouper claims rows by compare-and-set (`claimed_at`), and a claim older than
  `CLAIM_LEASE` is taken over (a grouper killed mid-way). Re-running a claimed row is harmless: the report's
  unique key makes the second run find the first's report (same id), recorded as created.
"""

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cases.models import AcceptedReport, Report
from cases.services.background import enqueue_grouping
from cases.services.intake import ReportInput, accept_reports
from cases.validation import parse_report
from moderation.models import Policy, Vendor

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)
GROUP_LIMIT = 500


@dataclass
class AcceptedOutcome:
    external_id: str
    status: str  # "accepted" (waiting for its case) | "duplicate" (already a report) | "conflict"
    report_id: int | None = None
    case_id: int | None = None
    detail: str = ""


def accept_reports_first(*, vendor: Vendor, reports: list[ReportInput]) -> list[AcceptedOutcome]:
    """Store `reports` to be grouped into cases shortly; say per item, in input order, what happened.

    `accepted`: stored now (or a replay of one still waiting), with its report id and no case yet;
    `duplicate`: the key is a report already, same body (its ids); `conflict`: the key was used for a
    different body (nothing stored). One statement for the new ones; the grouper is scheduled once stored.
    """
    if not reports:
        return []
    now = timezone.now()
    first: dict[str, ReportInput] = {}
    for item in reports:
        first.setdefault(item.external_id, item)
    stored = _insert_new(vendor=vendor, items=list(first.values()), now=now)
    outcomes: dict[str, AcceptedOutcome] = {
        key: AcceptedOutcome(key, "accepted", report_id=report_id) for key, report_id in stored.items()
    }
    missing = [key for key in first if key not in outcomes]
    if missing:
        outcomes |= _existing(vendor=vendor, items=[first[key] for key in missing])
    if stored:
        enqueue_grouping()
    answers = []
    for item in reports:
        found = outcomes[item.external_id]
        if item is not first[item.external_id] and item.payload_hash != first[item.external_id].payload_hash:
            found = _conflict(item, found.report_id)
        answers.append(dataclasses.replace(found))
    return answers


def _insert_new(*, vendor: Vendor, items: list[ReportInput], now: datetime) -> dict[str, int]:
    """Insert the items whose key is free; return key → reserved report id for those inserted."""
    if connection.vendor == "postgresql":
        return _insert_new_postgresql(vendor=vendor, items=items, now=now)
    return _insert_new_portable(vendor=vendor, items=items, now=now)


# One statement, autocommit: the report id comes from the reports' sequence (never reused, so a report made
# later with it cannot collide), and a key used by a report or an accepted one is skipped.
_INSERT_POSTGRESQL = """
INSERT INTO cases_acceptedreport
    (id, vendor_id, external_id, payload, payload_hash, accepted_at, outcome)
SELECT nextval(pg_get_serial_sequence('cases_report', 'id')), %s, v.external_id, CAST(v.payload AS jsonb),
       v.payload_hash, %s, ''
FROM (VALUES {rows}) AS v (external_id, payload, payload_hash)
WHERE NOT EXISTS (
    SELECT 1 FROM cases_report r WHERE r.vendor_id = %s AND r.external_id = v.external_id
)
ON CONFLICT (vendor_id, external_id) DO NOTHING
RETURNING external_id, id
"""


def _insert_new_postgresql(*, vendor: Vendor, items: list[ReportInput], now: datetime) -> dict[str, int]:
    values: list = []
    for item in items:
        values += [item.external_id, json.dumps(item.payload, ensure_ascii=False), item.payload_hash]
    sql = _INSERT_POSTGRESQL.replace("{rows}", ", ".join(["(%s, %s, %s)"] * len(items)))
    with connection.cursor() as cursor:
        cursor.execute(sql, [vendor.pk, now, *values, vendor.pk])
        return dict(cursor.fetchall())


@transaction.atomic
def _insert_new_portable(*, vendor: Vendor, items: list[ReportInput], now: datetime) -> dict[str, int]:
    """SQLite (development, tests): writers take the database lock in turn, so look, reserve and insert."""
    keys = [item.external_id for item in items]
    taken = set(
        Report.objects.filter(vendor=vendor, external_id__in=keys).values_list("external_id", flat=True)
    ) | set(
        AcceptedReport.objects.filter(vendor=vendor, external_id__in=keys).values_list(
            "external_id", flat=True
        )
    )
    fresh = [item for item in items if item.external_id not in taken]
    if not fresh:
        return {}
    ids = _reserve_sqlite_report_ids(len(fresh))
    AcceptedReport.objects.bulk_create(
        [
            AcceptedReport(
                id=report_id,
                vendor=vendor,
                external_id=item.external_id,
                payload=item.payload,
                payload_hash=item.payload_hash,
                accepted_at=now,
            )
            for report_id, item in zip(ids, fresh, strict=True)
        ]
    )
    return {item.external_id: report_id for report_id, item in zip(ids, fresh, strict=True)}


def _reserve_sqlite_report_ids(count: int) -> list[int]:
    # cases_report is AUTOINCREMENT: SQLite numbers the next report past sqlite_sequence's value, so moving
    # that on reserves ids no report will be given.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(id), 0) FROM cases_report)) + %s "
            "WHERE name = 'cases_report'",
            [count],
        )
        if cursor.rowcount == 0:
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) "
                "SELECT 'cases_report', COALESCE(MAX(id), 0) + %s FROM cases_report",
                [count],
            )
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = 'cases_report'")
        top = cursor.fetchone()[0]
    return list(range(top - count + 1, top + 1))


def _existing(*, vendor: Vendor, items: list[ReportInput]) -> dict[str, AcceptedOutcome]:
    """What the keys that were not free already are: a report (grouped or sent plainly) or a waiting one."""
    keys = [item.external_id for item in items]
    by_key = {item.external_id: item for item in items}
    found: dict[str, AcceptedOutcome] = {}
    for row in Report.objects.filter(vendor=vendor, external_id__in=keys).values(
        "id", "external_id", "case_id", "payload_hash"
    ):
        item = by_key[row["external_id"]]
        if row["payload_hash"] != item.payload_hash:
            found[item.external_id] = _conflict(item, row["id"])
        else:
            found[item.external_id] = AcceptedOutcome(
                item.external_id, "duplicate", row["id"], row["case_id"]
            )
    for row in AcceptedReport.objects.filter(vendor=vendor, external_id__in=set(keys) - found.keys()).values(
        "id", "external_id", "payload_hash"
    ):
        item = by_key[row["external_id"]]
        if row["payload_hash"] != item.payload_hash:
            found[item.external_id] = _conflict(item, row["id"])
        else:
            # Waiting still (a grouped one is a report, found above): the same 202 again.
            found[item.external_id] = AcceptedOutcome(item.external_id, "accepted", row["id"])
    for item in items:  # grouped as a conflict meanwhile: neither table has it as this body's report
        found.setdefault(item.external_id, _conflict(item, None))
    return found


def _conflict(item: ReportInput, report_id: int | None) -> AcceptedOutcome:
    return AcceptedOutcome(
        item.external_id,
        "conflict",
        report_id,
        detail=(
            f"external_id {item.external_id!r} was already used for a report with a different body; "
            "reports are immutable, send a new external_id for a new report"
        ),
    )


def group_accepted_reports(*, limit: int = GROUP_LIMIT) -> int:
    """Make up to `limit` waiting accepted reports into reports on their cases (oldest first), each vendor's
    as one `accept_reports` batch; record each one's outcome. Returns how many it grouped."""
    now = timezone.now()
    rows = _claim(limit=limit, now=now)
    if not rows:
        return 0
    policies = {policy.code: policy for policy in Policy.objects.all()}  # retired since acceptance too
    vendors = Vendor.objects.in_bulk({row.vendor_id for row in rows})
    for vendor_id in sorted(vendors):
        mine = [row for row in rows if row.vendor_id == vendor_id]
        items, kept = [], []
        for row in mine:
            item, errors = parse_report(row.payload, policies)
            if errors:  # it passed validation when accepted: a bug, kept claimed (and visible) for a look
                logger.error("accepted report %s no longer parses: %s", row.pk, errors)
                continue
            items.append(dataclasses.replace(item, report_id=row.pk))
            kept.append(row)
        outcomes = accept_reports(vendor=vendors[vendor_id], reports=items)
        for row, outcome in zip(kept, outcomes, strict=True):
            row.grouped_at = timezone.now()
            # A duplicate of itself is a report a killed grouper made before recording it here.
            row.outcome = "created" if outcome.report_id == row.pk else outcome.status
            row.report_id = outcome.report_id
            row.case_id = outcome.case_id
        AcceptedReport.objects.bulk_update(kept, ["grouped_at", "outcome", "report_id", "case_id"])
    return len(rows)


def _claim(*, limit: int, now: datetime) -> list[AcceptedReport]:
    """Compare-and-set: only rows still waiting and unclaimed (or whose claim lapsed) are taken, so two
    groupers never take the same row; the claim time is the token that finds ours again."""
    waiting = Q(grouped_at__isnull=True) & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE))
    ids = list(AcceptedReport.objects.filter(waiting).order_by("id").values_list("id", flat=True)[:limit])
    if not ids:
        return []
    AcceptedReport.objects.filter(waiting, id__in=ids).update(claimed_at=now)
    return list(
        AcceptedReport.objects.filter(id__in=ids, claimed_at=now, grouped_at__isnull=True).order_by("id")
    )
