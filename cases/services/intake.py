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

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from cases.counters import NewSubjectEvent, ReportEvent, record_reports
from cases.models import Case, Report, Signal, Subject, SubjectVersion
from cases.services.background import enqueue_case_enrichment, enqueue_media_fetch
from cases.services.restriction import restrict_subjects, withdraw_from_open_queues
from moderation.audit import Actor, Verb, audit_event, record_events
from moderation.metrics import count_reports_on_commit
from moderation.models import Policy, Vendor

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
CONTENT_FIELDS = ("author_id", "text", "media_urls", "language", "url", "metadata")


@dataclass(frozen=True)
class SubjectInput:
    kind: str
    external_id: str
    author_id: str = ""
    text: str = ""
    media_urls: tuple[str, ...] = ()
    language: str = ""
    url: str = ""
    metadata: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.external_id)

    @property
    def has_content(self) -> bool:
        return bool(self.author_id or self.text or self.media_urls or self.url or self.metadata)

    def content(self) -> dict[str, Any]:
        return {
            "author_id": self.author_id,
            "text": self.text,
            "media_urls": list(self.media_urls),
            "language": self.language,
            "url": self.url,
            "metadata": self.metadata,
        }

    @cached_property
    def content_hash(self) -> str:
        return canonical_hash(self.content())


@dataclass(frozen=True)
class ReportInput:
    """A validated report, as the API hands it to the service."""

    external_id: str
    policy: Policy
    subject: SubjectInput
    payload: dict  # the canonical, JSON-safe form of the validated item (stored as evidence)
    reporter_id: str = ""
    comment: str = ""
    occurred_at: datetime | None = None
    scores: tuple[tuple[str, float], ...] = ()

    @cached_property
    def payload_hash(self) -> str:
        return canonical_hash(self.payload)

    @property
    def reporter_key(self) -> str:
        # Reporter ids are scoped to the vendor that sent them; no reporter id counts as the vendor itself.
        return self.reporter_id


@dataclass
class IntakeOutcome:
    external_id: str
    status: str  # "created" | "duplicate" | "conflict"
    report_id: int | None = None
    case_id: int | None = None
    detail: str = ""


def canonical_hash(value: Any) -> str:
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


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
    first_in_call: dict[str, int] = {}
    fresh: list[int] = []
    for index, item in enumerate(reports):
        previous = existing.get(item.external_id)
        if previous is not None:
            outcomes[index] = _replay_outcome(
                item, previous["payload_hash"], previous["id"], previous["case_id"]
            )
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


def _replay_outcome(item: ReportInput, stored_hash: str, report_id: int, case_id: int) -> IntakeOutcome:
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
    subjects = _lock_or_create_subjects(items, vendor=vendor, now=now)
    seen = _record_subject_versions(items, subjects, vendor=vendor, now=now)
    versions = [version for version, _, _ in seen]
    restrict_subjects(
        {
            subjects[item.subject.key]
            for item in items
            if item.policy.is_restricted and not subjects[item.subject.key].is_restricted
        }
    )
    cases, opened = _cases_for(items, subjects, versions, now=now)

    reports = Report.objects.bulk_create(
        [
            Report(
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


def _lock_or_create_subjects(
    items: list[ReportInput], *, vendor: Vendor, now: datetime
) -> dict[tuple[str, str], Subject]:
    """Every subject the items name, locked for this transaction; missing ones inserted in key order.

    A subject inserted here starts at content version 1 with the first item's content, and is marked
    `_is_new`: no case can reference it yet, which saves the case look-ups.
    """
    first_seen: dict[tuple[str, str], SubjectInput] = {}
    for item in items:
        first_seen.setdefault(item.subject.key, item.subject)
    # Both columns of the (kind, external_id) unique index, so the look-up is an index scan.
    kinds = {key[0] for key in first_seen}
    external_ids = {key[1] for key in first_seen}
    subjects = {
        (subject.kind, subject.external_id): subject
        for subject in Subject.objects.select_for_update()
        .filter(kind__in=kinds, external_id__in=external_ids)
        .order_by("id")
        if (subject.kind, subject.external_id) in first_seen
    }
    missing = sorted(key for key in first_seen if key not in subjects)
    if missing:
        created = Subject.objects.bulk_create(
            [
                Subject(
                    kind=key[0],
                    external_id=key[1],
                    content_version=1,
                    content_hash=first_seen[key].content_hash,
                    content_vendor=vendor if first_seen[key].has_content else None,
                    first_seen_at=now,
                    last_seen_at=now,
                    **first_seen[key].content(),
                )
                for key in missing
            ]
        )
        for subject in created:
            subject._is_new = True
            subjects[(subject.kind, subject.external_id)] = subject
    return subjects


def _record_subject_versions(
    items: list[ReportInput], subjects: dict[tuple[str, str], Subject], *, vendor: Vendor, now: datetime
) -> list[tuple[int, bool, bool]]:
    """Per item: (the subject version it carried or saw, whether it brought content, whether that content is
    new evidence for its case). Evidence is never overwritten, and no vendor changes what another shows:

    - content equal to what the subject shows, or to a version already kept, refers to that version;
    - other content becomes a new `SubjectVersion`, recorded with the vendor that sent it;
    - only the subject's content vendor (the first to supply content) moves what the subject shows on (an
      edit on its platform); another vendor's different text or author stays its own version, which the case
      page shows beside the others as a conflict;
    - a report that carries no content (only the subject's identity) saw the content as it stands, and brings
      nothing: it does not make its vendor a party to the case (`Report.carried_content`).
    """
    first_by_key: dict[tuple[str, str], SubjectInput] = {}
    for item in items:
        first_by_key.setdefault(item.subject.key, item.subject)
    new_versions: list[SubjectVersion] = []
    for key, subject in subjects.items():
        if getattr(subject, "_is_new", False):
            first = first_by_key[key]
            new_versions.append(_version_of(subject, first, vendor=vendor if first.has_content else None))
    known = _known_versions(items, subjects)
    next_version = _next_versions(items, subjects, known)
    content_changed: dict[int, Subject] = {}
    restored: dict[tuple[int, int], SubjectInput] = {}
    seen: list[tuple[int, bool, bool]] = []
    for item in items:
        subject = subjects[item.subject.key]
        if not item.subject.has_content:
            # Naming a subject, even first, brings no evidence: the vendor is no party to the case.
            seen.append((subject.content_version, False, False))
            continue
        content_hash = item.subject.content_hash
        version = known.get((subject.pk, content_hash))
        fresh = version is None
        if fresh:
            version = next_version[subject.pk]
            next_version[subject.pk] += 1
            known[(subject.pk, content_hash)] = version
            new_versions.append(_version_of(subject, item.subject, vendor=vendor, version=version))
        elif subject.content_purged_at is not None:
            # Retention purged this content (the hash stays); a report carrying it again brings the same
            # words back, else its case would show a purge marker for content its reporter just sent.
            restored[(subject.pk, version)] = item.subject
        owns = _may_set_content(subject, vendor)
        if owns and (content_hash != subject.content_hash or subject.content_purged_at is not None):
            subject.content_version = version
            subject.content_hash = content_hash
            subject.content_vendor_id = vendor.pk
            subject.content_purged_at = None
            for name, value in item.subject.content().items():
                setattr(subject, name, value)
            content_changed[subject.pk] = subject
        elif owns and subject.content_vendor_id is None:
            subject.content_vendor_id = vendor.pk
            content_changed[subject.pk] = subject
        seen.append((version, True, fresh or version != subject.content_version))
    if new_versions:
        SubjectVersion.objects.bulk_create(new_versions)
    for (subject_id, version), data in restored.items():  # rare: a repeat of purged content
        SubjectVersion.objects.filter(subject_id=subject_id, version=version, purged_at__isnull=False).update(
            **data.content(), purged_at=None
        )
    if content_changed:
        for subject in content_changed.values():
            subject.last_seen_at = now
        Subject.objects.bulk_update(
            list(content_changed.values()),
            [
                *CONTENT_FIELDS,
                "content_hash",
                "content_version",
                "content_vendor",
                "content_purged_at",
                "last_seen_at",
            ],
        )
    seen_only = [
        subject.pk
        for subject in subjects.values()
        if not getattr(subject, "_is_new", False) and subject.pk not in content_changed
    ]
    if seen_only:
        Subject.objects.filter(pk__in=seen_only).update(last_seen_at=now)
    return seen


def _may_set_content(subject: Subject, vendor: Vendor) -> bool:
    """Whose content a subject shows: its content vendor's (the first to supply some), until the platform's
    own feed (`Vendor.is_content_authority`) sends its version; then only the platform moves it on."""
    if subject.content_vendor_id in (None, vendor.pk):
        return True
    return vendor.is_content_authority


def _known_versions(
    items: list[ReportInput], subjects: dict[tuple[str, str], Subject]
) -> dict[tuple[int, str], int]:
    """(subject id, content hash) → version already kept: what the subjects show, and, in one query, any
    earlier version the items' content repeats."""
    known = {(subject.pk, subject.content_hash): subject.content_version for subject in subjects.values()}
    wanted = {
        item.subject.content_hash
        for item in items
        if item.subject.has_content
        and not getattr(subjects[item.subject.key], "_is_new", False)
        and (subjects[item.subject.key].pk, item.subject.content_hash) not in known
    }
    if wanted:
        old_ids = [s.pk for s in subjects.values() if not getattr(s, "_is_new", False)]
        for subject_id, content_hash, version in SubjectVersion.objects.filter(
            subject_id__in=old_ids, content_hash__in=wanted
        ).values_list("subject_id", "content_hash", "version"):
            known.setdefault((subject_id, content_hash), version)
    return known


def _next_versions(
    items: list[ReportInput], subjects: dict[tuple[str, str], Subject], known: dict[tuple[int, str], int]
) -> dict[int, int]:
    """The next free version number of each subject that may get a new version (one query for all)."""
    nexts = {subject.pk: subject.content_version + 1 for subject in subjects.values()}
    needing = {
        subjects[item.subject.key].pk
        for item in items
        if item.subject.has_content
        and (subjects[item.subject.key].pk, item.subject.content_hash) not in known
        and not getattr(subjects[item.subject.key], "_is_new", False)
    }
    if needing:
        for row in (
            SubjectVersion.objects.filter(subject_id__in=needing)
            .values("subject_id")
            .annotate(top=Max("version"))
            .order_by()
        ):
            nexts[row["subject_id"]] = max(nexts[row["subject_id"]], row["top"] + 1)
    return nexts


def _version_of(
    subject: Subject, data: SubjectInput, *, vendor: Vendor, version: int | None = None
) -> SubjectVersion:
    return SubjectVersion(
        subject=subject,
        version=version or subject.content_version,
        content_hash=data.content_hash if version else subject.content_hash,
        vendor=vendor,
        **data.content(),
    )


def _cases_for(
    items: list[ReportInput], subjects: dict[tuple[str, str], Subject], versions: list[int], *, now: datetime
) -> tuple[list[Case], list[Case]]:
    """The case each item joins: the subject's open case, a resolved one it only repeats, or a new one."""
    known_ids = {subject.pk for subject in subjects.values() if not getattr(subject, "_is_new", False)}
    open_cases: dict[int, Case] = {}
    last_resolved: dict[int, Case] = {}
    if known_ids:
        # Locked (after the subjects: same order everywhere), so the router cannot resolve a case while a
        # report is being added to it; a case resolved while we waited no longer matches and is not returned.
        open_cases = {
            case.subject_id: case
            for case in Case.objects.select_for_update()
            .filter(subject_id__in=known_ids, kind=Case.Kind.REPORT)
            .exclude(status=Case.Status.RESOLVED)
            .order_by("id")
        }
        without_open = known_ids - open_cases.keys()
        last_resolved = _last_resolved_cases(without_open) if without_open else {}

    chosen: list[Case] = []
    to_open: dict[int, Case] = {}
    for item, version in zip(items, versions, strict=True):
        subject = subjects[item.subject.key]
        case = open_cases.get(subject.pk) or to_open.get(subject.pk)
        if case is None:
            resolved = last_resolved.get(subject.pk)
            if resolved is not None and _repeats_decided_report(item, version, resolved):
                case = resolved
            else:
                case = to_open[subject.pk] = Case(
                    subject=subject, policy=item.policy, opened_at=now, is_restricted=subject.is_restricted
                )
                case._reporters = set()
        if case.pk is None:
            # A case opened by this call gets its aggregates now, so it needs no UPDATE afterwards.
            case.report_count += 1
            case._reporters.add(item.reporter_key)
            case.reporter_count = len(case._reporters)
            case.last_reported_at = now
            if item.policy.severity > case.policy.severity:
                case.policy = item.policy
        chosen.append(case)

    opened: list[Case] = []
    if to_open:
        opened = Case.objects.bulk_create(list(to_open.values()))
    return chosen, opened


def _last_resolved_cases(subject_ids: set[int]) -> dict[int, Case]:
    latest: dict[int, Case] = {}
    for case in (
        Case.objects.filter(subject_id__in=subject_ids, status=Case.Status.RESOLVED, kind=Case.Kind.REPORT)
        .order_by("subject_id", "-resolved_at", "-id")
        .only("id", "subject_id", "resolved_at", "status")
    ):
        latest.setdefault(case.subject_id, case)
    if latest:
        facts = (
            Report.objects.filter(case__in=latest.values())
            .order_by()
            .values_list("case_id", "policy_id", "subject_version")
            .distinct()
        )
        by_case: dict[int, tuple[set[int], int]] = {}
        for case_id, policy_id, version in facts:
            policies, max_version = by_case.get(case_id, (set(), 0))
            policies.add(policy_id)
            by_case[case_id] = (policies, max(max_version, version))
        for case in latest.values():
            case._decided_policies, case._decided_version = by_case.get(case.pk, (set(), 0))
    return latest


def _repeats_decided_report(item: ReportInput, version: int, resolved: Case) -> bool:
    """A late report adds nothing to a decided case: same reason, same content, seen before the decision.

    Anything else (a new reason, new content, or abuse seen after the decision) deserves a new review.
    """
    return (
        item.policy.pk in resolved._decided_policies
        and version <= resolved._decided_version
        and item.occurred_at is not None
        and resolved.resolved_at is not None
        and item.occurred_at <= resolved.resolved_at
    )


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
