"""Intake's subjects: found or inserted and locked, and their content kept as versions (evidence is never
overwritten). Part of `cases.services.intake`'s one transaction; see its docstring for the lock order."""

from datetime import datetime

from django.db.models import Max

from cases.models import Subject, SubjectVersion
from cases.services.intake_inputs import CONTENT_FIELDS, ReportInput, SubjectInput
from moderation.models import Vendor


def lock_or_create_subjects(
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


def record_subject_versions(
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
