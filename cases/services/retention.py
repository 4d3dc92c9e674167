"""Retention: purging the content of subjects whose cases ran out their policy's retention.

What goes (content: what the platform's users wrote or posted, and copies of it): the text, media URLs,
address and metadata of the subject and of every version of it; the bytes of its media copies; its reports'
free-text comments and raw payloads (the payload repeats the subject's text); the text a bank matched, quoted
in bank signals. What stays: the subject's identity and author id, every case, report row, decision, strike,
appeal and audit event, content hashes (dedupe of late repeats, the payload hash a replay is checked against)
and media hashes (SHA-256, MD5: bank matching, campaign links). Restricted flags are never touched.

Which subjects are due is `cases.retention_selectors.due_subjects`. Each subject is purged in its own short
transaction, under its row lock taken with SKIP LOCKED on PostgreSQL (intake and legal holds lock the same row,
so a report arriving or a hold being placed waits, or makes the purge skip the subject until the next run),
and eligibility is checked again under that lock. Re-running finds nothing left to do: idempotent and
resumable after a crash at any point.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from cases.models import Case, MediaFile, Report, Signal, Subject, SubjectVersion
from cases.retention_selectors import due_subjects, retention_clocks
from cases.selectors import media_url_hash
from moderation.audit import Actor, Verb, audit_event, record_events
from moderation.models import Policy

PURGED_PAYLOAD = {"purged": True}
# Bank evidence keys that quote the subject's content (the rest names the bank entry, which is ours).
QUOTED_KEYS = ("matched",)


@dataclass
class SubjectPurge:
    subject_id: int
    policy: str
    versions: int = 0
    media_files: int = 0
    reports: int = 0
    signals: int = 0
    case_ids: list[int] = field(default_factory=list)


def _media_still_shown(urls: set[str], *, subject_id: int) -> set[str]:
    """The URLs another subject still shows (copies are one per URL, shared): their copies stay. A text
    match narrows the rows (portable: JSON containment is PostgreSQL-only), the exact check is here."""
    if not urls:
        return set()
    near = Q(pk__in=[])
    for url in urls:
        near |= Q(media_urls__icontains=url)
    shown: set[str] = set()
    rows = [
        *SubjectVersion.objects.filter(near, purged_at__isnull=True)
        .exclude(subject_id=subject_id)
        .values_list("media_urls", flat=True),
        *Subject.objects.filter(near).exclude(pk=subject_id).values_list("media_urls", flat=True),
    ]
    for media_urls in rows:
        shown.update(str(url) for url in media_urls or [] if str(url) in urls)
    return shown


def _without_quotes(value):
    if isinstance(value, dict) and any(key in value for key in QUOTED_KEYS):
        return {key: ("[purged]" if key in QUOTED_KEYS else item) for key, item in value.items()}
    return value


def purge_subject_content(*, subject_id: int, now: datetime, clocks: dict[int, int] | None = None):
    """Purge one subject's content if it is (still) due; one `content.purged` audit event per case on it,
    with the counts, in the same transaction. Returns a `SubjectPurge`, or None when the subject is not due
    any more, or another transaction holds its row (PostgreSQL: skipped, tried again next run)."""
    with transaction.atomic(durable=True):
        subject = (
            due_subjects(now=now, clocks=clocks)
            .filter(pk=subject_id)
            .select_for_update(skip_locked=True, of=("self",))
            .first()
        )
        if subject is None:
            return None
        cases = list(
            Case.objects.filter(subject=subject)
            .order_by("-resolved_at", "-pk")
            .values_list("pk", "kind", "policy_id")
        )
        # The marker names the policy whose retention ended last: the most recently resolved report case's.
        policy_id = next(pid for _, kind, pid in cases if kind != Case.Kind.APPEAL and pid is not None)
        policy = Policy.objects.only("code", "name", "retention_days").get(pk=policy_id)
        result = SubjectPurge(subject_id=subject.pk, policy=policy.code, case_ids=[pk for pk, _, _ in cases])

        versions = list(
            SubjectVersion.objects.filter(subject=subject, purged_at__isnull=True).values_list(
                "pk", "media_urls"
            )
        )
        urls = {str(url) for _, media_urls in versions for url in media_urls or []}
        urls.update(str(url) for url in subject.media_urls or [])
        result.versions = SubjectVersion.objects.filter(pk__in=[pk for pk, _ in versions]).update(
            text="", media_urls=[], url="", metadata={}, purged_at=now
        )
        gone = urls - _media_still_shown(urls, subject_id=subject.pk)
        result.media_files = (
            MediaFile.objects.filter(url_hash__in=[media_url_hash(url) for url in gone])
            .exclude(state=MediaFile.State.PURGED)
            .update(content=b"", state=MediaFile.State.PURGED)
        )
        reports_by_case: dict[int, int] = {}
        stale = Report.objects.filter(subject=subject).exclude(payload=PURGED_PAYLOAD, comment="")
        for case_id in stale.values_list("case_id", flat=True):
            reports_by_case[case_id] = reports_by_case.get(case_id, 0) + 1
        result.reports = stale.update(comment="", payload=PURGED_PAYLOAD)
        quoted = [
            Signal(pk=pk, value=_without_quotes(value))
            for pk, value in Signal.objects.filter(
                case__subject=subject, source=Signal.Source.BANK
            ).values_list("pk", "value")
            if _without_quotes(value) is not value
        ]
        result.signals = len(quoted)
        if quoted:
            Signal.objects.bulk_update(quoted, ["value"])
        Subject.objects.filter(pk=subject.pk).update(
            text="", media_urls=[], url="", metadata={}, content_purged_at=now, content_purged_under=policy
        )
        actor = Actor.system("retention")
        record_events(
            [
                audit_event(
                    actor=actor,
                    verb=Verb.CONTENT_PURGED,
                    target=Case(pk=case_id),
                    case_id=case_id,
                    data={
                        "subject": f"{subject.kind}:{subject.external_id}",
                        "policy": policy.code,
                        "retention_days": policy.retention_days,
                        "versions": result.versions,
                        "media_files": result.media_files,
                        "reports": reports_by_case.get(case_id, 0),
                        "signals": result.signals,
                    },
                )
                for case_id in result.case_ids
            ]
        )
    return result


def purge_due_content(
    *, now: datetime, limit: int, after_id: int = 0
) -> tuple[list[SubjectPurge], int | None]:
    """One bounded batch: purge up to `limit` due subjects with ids above `after_id`. Returns what was purged
    and the id to continue after (None when this batch reached the end of what is due)."""
    clocks = retention_clocks()
    ids = list(
        due_subjects(now=now, clocks=clocks).filter(pk__gt=after_id).values_list("pk", flat=True)[:limit]
    )
    purged = [
        result
        for subject_id in ids
        if (result := purge_subject_content(subject_id=subject_id, now=now, clocks=clocks)) is not None
    ]
    return purged, (ids[-1] if len(ids) == limit else None)


def purge_expired_content(*, now: datetime, batch_size: int, max_batches: int) -> list[SubjectPurge]:
    """A run (the beat task, the command): batches until nothing is due or `max_batches` were done; the
    rest waits for the next run, which starts from the lowest due id again (purged subjects drop out)."""
    purged: list[SubjectPurge] = []
    after_id: int | None = 0
    for _ in range(max_batches):
        batch, after_id = purge_due_content(now=now, limit=batch_size, after_id=after_id)
        purged.extend(batch)
        if after_id is None:
            break
    return purged
