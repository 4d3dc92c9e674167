"""Report intake: store reports idempotently, keep subject evidence, group reports into cases.

One code path serves the single and the batch endpoint: `accept_reports` does a bounded number of queries
per call whatever the batch size (bulk inserts, one UPDATE for case aggregates).

Concurrency rules (PostgreSQL, READ COMMITTED):
- Subject rows are locked (`SELECT ... FOR UPDATE`, ordered by id) before their cases are looked up, so two
  requests reporting the same subject serialise on it and cannot both open a case. The partial unique
  constraint `one_open_case_per_subject` is the database's guarantee behind that.
- New subjects are inserted in key order. A request that loses an insert race (unique violation) or a
  deadlock rolls back whole and runs again; the second run finds the winner's rows. Replays of a report
  are found by the unique `(vendor, external_id)` key, so a retry never creates a second report.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from cases.counters import NewSubjectEvent, ReportEvent, record_reports
from cases.models import AcceptedReport, Report, Signal, Subject
from cases.services.background import enqueue_case_enrichment, enqueue_media_fetch
from cases.services.intake_cases import cases_for
from cases.services.intake_inputs import (  # re-exported: callers build inputs from here
    IntakeOutcome,
    ReportInput,
    SubjectInput,
    canonical_hash,
)
from cases.services.intake_subjects import lock_or_create_subjects, record_subject_versions
from cases.services.restriction import restrict_subjects, withdraw_from_open_queues
from moderation.audit import Actor, Verb, audit_event, record_events
from moderation.metrics import count_reports_on_commit
from moderation.models import Vendor

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
__all__ = ["IntakeOutcome", "ReportInput", "SubjectInput", "accept_reports", "canonical_hash"]


def accept_reports(*, vendor: Vendor, reports: list[ReportInput]) -> list[IntakeOutcome]:
    """Store `reports` from `vendor`, attach each to its subject's case, and say what happened to each.

    Outcomes come back in input order: `created`, `duplicate` (same key, same body: the existing ids), or
    `conflict` (same key, different body: nothing written for it). All writes for the call are one
    transaction, with an audit event per report and per opened case; enrichment is enqueued on commit.
    """
    if not reports:
        return []
    # A single report is usually new: skip the replay look-up and let the unique key catch a replay, which
    # then runs again with the look-up (a batch always looks up: one query serves all its items).
    check_replays = len(reports) > 1
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _accept_once(vendor=vendor, reports=reports, check_replays=check_replays)
        except (IntegrityError, OperationalError) as exc:
            # Lost a race with a concurrent request (unique key, deadlock): its rows are committed now.
            # Anything else (a check constraint, a bad value) would fail the same way again.
            if attempt == MAX_ATTEMPTS or not _is_race(exc):
                raise
            if check_replays:
                logger.info("intake retry %s for vendor %s after %s", attempt, vendor.pk, type(exc).__name__)
            check_replays = True
    raise AssertionError("unreachable")


RACE_SQLSTATES = {"23505", "40001", "40P01"}  # unique_violation, serialization_failure, deadlock_detected


def _is_race(exc: Exception) -> bool:
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in RACE_SQLSTATES
    message = str(exc)
    return "UNIQUE constraint failed" in message or "database is locked" in message


@transaction.atomic
def _accept_once(*, vendor: Vendor, reports: list[ReportInput], check_replays: bool) -> list[IntakeOutcome]:
    now = timezone.now()
    outcomes: list[IntakeOutcome | None] = [None] * len(reports)

    # 1. Replays: keys this vendor already used, and keys repeated inside this call.
    existing = {}
    if check_replays:
        existing = {
            row["external_id"]: row
            for row in Report.objects.filter(
                vendor=vendor, external_id__in={item.external_id for item in reports}
            ).values("id", "external_id", "case_id", "payload_hash")
        }
    # Looked up even for a single report: no unique key spans the two tables to catch it.
    waiting = _waiting_accepted(vendor, reports, existing)
    first_in_call: dict[str, int] = {}
    fresh: list[int] = []
    for index, item in enumerate(reports):
        previous = existing.get(item.external_id)
        held = waiting.get(item.external_id)
        if previous is not None:
            outcomes[index] = _replay_outcome(
                item, previous["payload_hash"], previous["id"], previous["case_id"]
            )
        elif held is not None and held["payload_hash"] != item.payload_hash:
            outcomes[index] = _replay_outcome(item, held["payload_hash"], held["id"], None)
        elif item.external_id in first_in_call:
            outcomes[index] = None  # resolved after the first occurrence is stored
        else:
            first_in_call[item.external_id] = index
            fresh.append(index)

    if fresh:
        stored = _store_fresh_reports(vendor=vendor, items=[reports[i] for i in fresh], now=now)
        for index, report in zip(fresh, stored, strict=True):
            outcomes[index] = IntakeOutcome(
                external_id=report.external_id, status="created", report_id=report.pk, case_id=report.case_id
            )

    for index, item in enumerate(reports):
        if outcomes[index] is None:
            first = reports[first_in_call[item.external_id]]
            created = outcomes[first_in_call[item.external_id]]
            outcomes[index] = _replay_outcome(item, first.payload_hash, created.report_id, created.case_id)
    return outcomes  # type: ignore[return-value]


def _waiting_accepted(vendor: Vendor, reports: list[ReportInput], existing: dict) -> dict[str, dict]:
    """Keys of a plain POST that wait accept-first (answered 202, not grouped yet): one with another body is
    a conflict now, as it would be once grouped, rather than a 201 that later turns the 202 into a conflict.
    The grouper's own items carry their reserved id and are those rows, so they are not looked up."""
    keys = {item.external_id for item in reports if item.report_id is None} - existing.keys()
    if not keys:
        return {}
    return {
        row["external_id"]: row
        for row in AcceptedReport.objects.filter(
            vendor=vendor, external_id__in=keys, grouped_at__isnull=True
        ).values("id", "external_id", "payload_hash")
    }


def _replay_outcome(
    item: ReportInput, stored_hash: str, report_id: int, case_id: int | None
) -> IntakeOutcome:
    if item.payload_hash == stored_hash:
        return IntakeOutcome(item.external_id, "duplicate", report_id, case_id)
    return IntakeOutcome(
        item.external_id,
        "conflict",
        report_id,
        case_id,
        detail=(
            f"external_id {item.external_id!r} was already used for a report with a different body; "
            "reports are immutable, send a new external_id for a new report"
        ),
    )


def _store_fresh_reports(*, vendor: Vendor, items: list[ReportInput], now: datetime) -> list[Report]:
    subjects = lock_or_create_subjects(items, vendor=vendor, now=now)
    seen = record_subject_versions(items, subjects, vendor=vendor, now=now)
    versions = [version for version, _, _ in seen]
    restrict_subjects(
        {
            subjects[item.subject.key]
            for item in items
            if item.policy.is_restricted and not subjects[item.subject.key].is_restricted
        }
    )
    cases, opened = cases_for(items, subjects, versions, now=now)

    reports = Report.objects.bulk_create(
        [
            Report(
                pk=item.report_id,  # None but for reports accepted first: the id their 202 promised
                vendor=vendor,
                external_id=item.external_id,
                subject=subjects[item.subject.key],
                subject_version=version,
                carried_content=carried,
                case=case,
                policy=item.policy,
                reason=item.policy.code,
                reporter_id=item.reporter_id,
                comment=item.comment,
                occurred_at=item.occurred_at,
                payload=item.payload,
                payload_hash=item.payload_hash,
            )
            for item, (version, carried, _), case in zip(items, seen, cases, strict=True)
        ]
    )

    signals = [
        Signal(
            case_id=report.case_id,
            report=report,
            source=Signal.Source.VENDOR_SCORE,
            source_name=vendor.slug,
            model=vendor.slug,
            label=label,
            score=score,
            dedupe_key=f"vendor:{report.pk}:{label}",
        )
        for item, report in zip(items, reports, strict=True)
        for label, score in item.scores
    ]
    if signals:
        Signal.objects.bulk_create(signals, ignore_conflicts=True)

    case_ids = sorted({case.pk for case in cases})
    # Reports that name media: a worker fetches copies (agents' browsers never load the original host).
    media_case_ids = sorted(
        {case.pk for item, case in zip(items, cases, strict=True) if item.subject.media_urls}
    )
    opened_ids = {case.pk for case in opened}
    # Only new content makes an agent's open decision form stale; a report repeating what the case shows
    # is counted (the page says a new report arrived) without invalidating it.
    new_evidence = {case.pk for case, (_, _, new) in zip(cases, seen, strict=True) if new}
    _refresh_case_aggregates(
        [pk for pk in case_ids if pk not in opened_ids], bump=new_evidence - opened_ids, now=now
    )
    restricted_subjects = {subject.pk for subject in subjects.values() if subject.is_restricted}
    withdraw_from_open_queues(
        {case.pk for case in cases if case.subject_id in restricted_subjects} - opened_ids, now=now
    )

    actor = Actor.for_vendor(vendor)
    events = [
        audit_event(
            actor=actor,
            verb=Verb.CASE_OPENED,
            target=case,
            case_id=case.pk,
            data={"subject": str(case.subject_id)},
        )
        for case in opened
    ]
    events += [
        audit_event(
            actor=actor,
            verb=Verb.REPORT_RECEIVED,
            target=report,
            case_id=report.case_id,
            data={
                "external_id": report.external_id,
                "reason": report.reason,
                "subject_version": report.subject_version,
            },
        )
        for report in reports
    ]
    record_events(events)

    # Counted before enrichment is enqueued (on-commit hooks run in order): routing reads these counters.
    _count_velocity(items, subjects, reports)
    transaction.on_commit(lambda: enqueue_case_enrichment(case_ids), robust=True)
    count_reports_on_commit(vendor_slug=vendor.slug, count=len(reports))
    if media_case_ids:
        transaction.on_commit(lambda: enqueue_media_fetch(media_case_ids), robust=True)
    return reports


def _count_velocity(
    items: list[ReportInput], subjects: dict[tuple[str, str], Subject], reports: list[Report]
) -> None:
    """Feed the live velocity counters after commit: one Redis round trip for the whole call."""
    events = [
        ReportEvent(
            received_at=report.received_at,
            subject_id=report.subject_id,
            author_id=subjects[item.subject.key].author_id,
            vendor_id=report.vendor_id,
            reporter_id=report.reporter_id,
        )
        for item, report in zip(items, reports, strict=True)
    ]
    created = [
        NewSubjectEvent(first_seen_at=subject.first_seen_at, author_id=subject.author_id)
        for subject in subjects.values()
        if getattr(subject, "_is_new", False)
    ]
    transaction.on_commit(lambda: record_reports(events, created), robust=True)


# One statement for every touched pre-existing case. Hand-written because the ORM version (three correlated
# subqueries) costs several milliseconds to compile on every call. Valid on PostgreSQL and SQLite.
_REFRESH_CASE_AGGREGATES = """
UPDATE cases_case SET
    report_count = (SELECT COUNT(*) FROM cases_report r WHERE r.case_id = cases_case.id),
    reporter_count = (
        SELECT COUNT(DISTINCT CAST(r.vendor_id AS VARCHAR(20)) || ':' || r.reporter_id)
        FROM cases_report r WHERE r.case_id = cases_case.id
    ),
    policy_id = COALESCE((
        SELECT r.policy_id FROM cases_report r JOIN moderation_policy p ON p.id = r.policy_id
        WHERE r.case_id = cases_case.id ORDER BY p.severity DESC, r.id LIMIT 1
    ), policy_id),
    last_reported_at = %s,
    updated_at = %s,
    version = version + (CASE WHEN id IN ({bump}) THEN 1 ELSE 0 END)
WHERE id IN ({placeholders})
"""


def _refresh_case_aggregates(case_ids: list[int], *, bump: set[int], now: datetime) -> None:
    """Report and reporter counts, newest report time and most severe policy of existing cases; the
    optimistic-lock version moves on only for cases in `bump` (they received new content)."""
    if not case_ids:
        return
    bumped = sorted(bump) or [0]  # no case has id 0: an IN list may not be empty
    sql = _REFRESH_CASE_AGGREGATES.format(
        bump=", ".join(["%s"] * len(bumped)), placeholders=", ".join(["%s"] * len(case_ids))
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, *bumped, *case_ids])
