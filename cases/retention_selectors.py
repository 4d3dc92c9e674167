"""Read side of retention: which subjects' content is due to be purged, and what holds it back.

The unit purged is a subject's content (every version's text, media, address, metadata; its media copies;
its reports' comments and payloads; text bank hits quoted), because every case on a subject shows the same
versions. So a subject is due only when *each* of its report cases is resolved and past its own policy's
retention (`Case.policy`, the most severe policy it was reported under: the strictest reason decides how
long its evidence is needed), and nothing holds it:

- a case on it (report or appeal) still open, or an appeal of one of its decisions still pending;
- a case under a policy without retention (kept forever) or not yet past it;
- an active legal hold on the subject or on any of its cases.

Appeal cases carry no content of their own and so set no clock; they only block while open.
"""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet

from cases.models import Appeal, Case, LegalHold, Report, Subject, SubjectVersion
from moderation.models import Policy
from queues.selectors import visible_case_condition


def retention_clocks() -> dict[int, int]:
    """Policy id → retention days, for the policies that have one."""
    return dict(Policy.objects.filter(retention_days__isnull=False).values_list("pk", "retention_days"))


def _past_retention(now: datetime, clocks: dict[int, int]) -> Q:
    """A resolved case past its policy's retention. One term per policy with a clock (a handful), so the
    comparison is on the indexed column, not on arithmetic per row."""
    terms = Q(pk__in=[])
    for policy_id, days in clocks.items():
        terms |= Q(policy_id=policy_id, resolved_at__lte=now - timedelta(days=days))
    return Q(status=Case.Status.RESOLVED) & terms


def active_holds(subject_ref) -> QuerySet[LegalHold]:
    return LegalHold.objects.filter(released_at__isnull=True).filter(
        Q(subject=subject_ref) | Q(case__subject=subject_ref)
    )


def due_subjects(*, now: datetime, clocks: dict[int, int] | None = None) -> QuerySet[Subject]:
    """Subjects whose content is due to be purged at `now` (see the module docstring), lowest id first.

    Idempotent by construction: a purged subject has no unpurged version left and its mark set, so it is
    due again only when new content arrives on it and that content's cases run out their retention."""
    clocks = retention_clocks() if clocks is None else clocks
    if not clocks:
        return Subject.objects.none()
    past = _past_retention(now, clocks)
    cases = Case.objects.filter(subject=OuterRef("pk"))
    content_cases = cases.exclude(kind=Case.Kind.APPEAL)
    return (
        Subject.objects.filter(Exists(content_cases.filter(past)))
        .exclude(Exists(cases.exclude(status=Case.Status.RESOLVED)))
        .exclude(Exists(content_cases.exclude(past)))
        .exclude(
            Exists(Appeal.objects.filter(state=Appeal.State.OPEN, decision__case__subject=OuterRef("pk")))
        )
        .exclude(Exists(active_holds(OuterRef("pk"))))
        .filter(
            Q(content_purged_at__isnull=True)
            | Exists(SubjectVersion.objects.filter(subject=OuterRef("pk"), purged_at__isnull=True))
        )
        .order_by("pk")
    )


def why_kept(subject: Subject, *, now: datetime) -> str:
    """Why a subject is not purged (for the case page and the dry run): "" if it is due."""
    if due_subjects(now=now).filter(pk=subject.pk).exists():
        return ""
    if active_holds(subject).exists():
        return "legal hold"
    if subject.cases.exclude(status=Case.Status.RESOLVED).exists():
        return "open case"
    if Appeal.objects.filter(state=Appeal.State.OPEN, decision__case__subject=subject).exists():
        return "pending appeal"
    return "retention not over"


def subject_holds(subject: Subject, user) -> list[LegalHold]:
    """Active holds on the subject and on those of its cases `user` may see, newest first. A hold on a
    restricted case of the same subject (its reason often names the matter) is neither shown to nor
    releasable by a lead who is not cleared for it."""
    holds = active_holds(subject)
    condition = visible_case_condition(user)
    if condition is not None:
        holds = holds.filter(Q(case__isnull=True) | Q(case__in=Case.objects.filter(condition)))
    return list(holds.select_related("placed_by", "case"))


def purge_preview(*, now: datetime, limit: int) -> list[dict]:
    """What a run at `now` would purge, up to `limit` subjects: identity, cases, the policies, counts. Never
    the content itself (the dry run's output lands in terminals and logs). Four queries."""
    subjects = list(due_subjects(now=now).values("pk", "kind", "external_id", "media_urls")[:limit])
    ids = [row["pk"] for row in subjects]
    cases: dict[int, list[tuple[int, str | None]]] = {}
    for subject_id, case_id, code in Case.objects.filter(subject_id__in=ids).values_list(
        "subject_id", "pk", "policy__code"
    ):
        cases.setdefault(subject_id, []).append((case_id, code))
    versions: dict[int, int] = {}
    for subject_id in SubjectVersion.objects.filter(subject_id__in=ids, purged_at__isnull=True).values_list(
        "subject_id", flat=True
    ):
        versions[subject_id] = versions.get(subject_id, 0) + 1
    reports: dict[int, int] = {}
    for subject_id in Report.objects.filter(subject_id__in=ids).values_list("subject_id", flat=True):
        reports[subject_id] = reports.get(subject_id, 0) + 1
    return [
        {
            "subject_id": row["pk"],
            "subject": f"{row['kind']}:{row['external_id']}",
            "cases": [case_id for case_id, _ in cases.get(row["pk"], [])],
            "policies": sorted({code for _, code in cases.get(row["pk"], []) if code}),
            "versions": versions.get(row["pk"], 0),
            "media_urls": len(row["media_urls"] or []),
            "reports": reports.get(row["pk"], 0),
        }
        for row in subjects
    ]
