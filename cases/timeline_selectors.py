"""A subject's (or an author's subjects') whole story as one timeline: content versions, reports, cases,
decisions, strikes and appeals, newest first, a page at a time (keyset, so page 1,000 costs what page 1 does).

What shows is what the reader may see: everything hangs off a case, and only cases in `visible_cases` count
(a restricted case, or one in a queue the reader is not in, leaves no trace: no entry, no count). Content
versions show only to someone who may see a case on that subject, and a restricted subject's only to someone
who may see one of its restricted cases.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.dateparse import parse_datetime

from cases.models import Appeal, Case, Decision, Report, Strike, Subject, SubjectVersion
from cases.version_diff import VersionDiff, diff_versions
from queues.selectors import visible_cases

# Order among entries at the same instant (a report and the case it opened share a transaction's clock).
KINDS = ("appeal", "strike", "decision", "case", "report", "version")
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}


@dataclass
class Entry:
    at: datetime
    kind: str
    pk: int
    item: object  # the row: a Case, Report, Decision, Strike, Appeal or SubjectVersion
    diff: VersionDiff | None = None

    @property
    def cursor(self) -> str:
        return f"{self.at.isoformat()}~{self.kind}~{self.pk}"


@dataclass
class Timeline:
    entries: list[Entry] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class Scope:
    """Whose story: one subject, or every subject of one author."""

    subject_id: int | None = None
    author_id: str | None = None

    def on(self, subject_path: str) -> Q:
        if self.subject_id is not None:
            return Q(**{f"{subject_path}_id": self.subject_id})
        return Q(**{f"{subject_path}__author_id": self.author_id})


def visible_subject(*, user, subject_id: int) -> Subject | None:
    """The subject, if the reader may see a case on it (else None: a hidden subject answers as a missing one)."""
    subject = Subject.objects.filter(pk=subject_id).defer("metadata").first()
    if subject is None or not _cases_on(user, Scope(subject_id=subject.pk)).exists():
        return None
    return subject


def author_is_visible(*, user, author_id: str) -> bool:
    return bool(author_id) and _cases_on(user, Scope(author_id=author_id)).exists()


def subject_version(
    *, user, subject: Subject, number: int
) -> tuple[SubjectVersion, VersionDiff | None, bool] | None:
    """One content version of a subject the reader may see, its diff against the version before it, and
    whether a later version exists. None if there is no such version for this reader."""
    versions = {
        version.version: version
        for version in _visible_versions(user, Scope(subject_id=subject.pk))
        .filter(version__in=[number - 1, number, number + 1])
        .select_related("vendor")
    }
    if number not in versions:
        return None
    shown = versions[number]
    return shown, _diff(versions.get(number - 1), shown), number + 1 in versions


def timeline(*, user, scope: Scope, cursor: str | None = None, size: int | None = None) -> Timeline:
    """One page of the story, newest first, starting after `cursor` (an entry's `cursor`; garbage: the
    start). Seven queries (one per kind, one for the versions the diffs compare against), whatever the size."""
    size = size or settings.TIMELINE_PAGE_SIZE
    after = _parse_cursor(cursor)
    cases = _cases_on(user, scope)
    visible_ids = visible_cases(user).values("pk")
    sources: list[tuple[str, QuerySet, str]] = [
        ("case", cases.select_related("policy", "queue", "subject"), "opened_at"),
        (
            "report",
            Report.objects.filter(scope.on("subject"), case_id__in=visible_ids).select_related(
                "vendor", "policy", "subject"
            ),
            "received_at",
        ),
        (
            "decision",
            Decision.objects.filter(scope.on("case__subject"), case_id__in=visible_ids).select_related(
                "policy", "action", "decided_by", "reviewed_by", "case__subject"
            ),
            "created_at",
        ),
        (
            "strike",
            Strike.objects.filter(
                Q(author_id=scope.author_id) if scope.author_id else scope.on("subject"),
                decision__case_id__in=visible_ids,
            ).select_related("policy", "subject"),
            "created_at",
        ),
        (
            "appeal",
            Appeal.objects.filter(scope.on("appeal_case__subject"), appeal_case_id__in=visible_ids)
            .select_related("vendor", "appeal_case__subject")
            .defer("appeal_case__subject__text"),
            "created_at",
        ),
        ("version", _visible_versions(user, scope).select_related("subject", "vendor"), "captured_at"),
    ]
    entries: list[Entry] = []
    for kind, rows, at_field in sources:
        if after is not None:
            rows = rows.filter(_after(after, kind, at_field))
        for row in rows.order_by(f"-{at_field}", "-pk")[: size + 1]:
            entries.append(Entry(at=getattr(row, at_field), kind=kind, pk=row.pk, item=row))
    # Newest first; at the same instant by kind (`KINDS`), then the newest row: the order `_after` pages in.
    entries.sort(key=lambda entry: (entry.at, -_RANK[entry.kind], entry.pk), reverse=True)
    page = Timeline(entries=entries[:size])
    if len(entries) > size:
        page.next_cursor = page.entries[-1].cursor
    _attach_diffs([entry for entry in page.entries if entry.kind == "version"])
    return page


def _cases_on(user, scope: Scope) -> QuerySet[Case]:
    return visible_cases(user).filter(scope.on("subject"))


def _visible_versions(user, scope: Scope) -> QuerySet[SubjectVersion]:
    seen = visible_cases(user).filter(subject=OuterRef("subject"))
    # A restricted subject's content only to someone who may see one of its restricted cases (a case from
    # before the subject became restricted is restricted too, but the content is judged on its own here).
    return SubjectVersion.objects.filter(scope.on("subject")).filter(
        Exists(seen), Q(subject__is_restricted=False) | Exists(seen.filter(is_restricted=True))
    )


def _attach_diffs(entries: list[Entry]) -> None:
    """Each version against the one before it on its subject: one query for all the predecessors."""
    if not entries:
        return
    wanted = Q(pk__in=[])
    for entry in entries:
        wanted |= Q(subject_id=entry.item.subject_id, version=entry.item.version - 1)
    previous = {
        (version.subject_id, version.version): version for version in SubjectVersion.objects.filter(wanted)
    }
    for entry in entries:
        entry.diff = _diff(previous.get((entry.item.subject_id, entry.item.version - 1)), entry.item)


def _diff(older: SubjectVersion | None, newer: SubjectVersion) -> VersionDiff | None:
    if older is None or older.purged_at or newer.purged_at:
        return None
    return diff_versions(older, newer)


def _parse_cursor(cursor: str | None) -> tuple[datetime, str, int] | None:
    parts = (cursor or "").split("~")
    if len(parts) != 3 or parts[1] not in _RANK or not parts[2].isdigit() or len(parts[2]) > 18:
        return None
    try:
        at = parse_datetime(parts[0])
    except ValueError:
        return None
    return (at, parts[1], int(parts[2])) if at is not None and at.tzinfo is not None else None


def _after(cursor: tuple[datetime, str, int], kind: str, at_field: str) -> Q:
    """Rows of `kind` that come after the cursor in (time desc, kind rank, id desc) order."""
    at, cursor_kind, pk = cursor
    older = Q(**{f"{at_field}__lt": at})
    if _RANK[kind] < _RANK[cursor_kind]:
        return older
    if _RANK[kind] > _RANK[cursor_kind]:
        return older | Q(**{at_field: at})
    return older | Q(**{at_field: at, "pk__lt": pk})
