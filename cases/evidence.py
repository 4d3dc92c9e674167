"""Read side: the content a case is about, version by version, and who supplied each.

A subject's content can arrive in several versions: the platform's own edit, or a vendor sending a different
text or author for the same subject id (by mistake, or to get someone else punished). Evidence belongs to the
report that brought it, so a case never shows "whatever the subject says now":

- the case *shows* the version its final decision was taken on, else what the subject's content vendor (the
  first to supply content) sent last;
- every other version its reports carried is listed beside it with its suppliers, marked as a conflict when
  the author, text, media or address differ;
- an agent decides on one version (`Decision.subject_version`, `Decision.author_id`), and everything after
  (enforcement, strike, messages, appeal) uses that one.
"""

from dataclasses import dataclass, field

from cases.models import Case, Decision, Report, Subject, SubjectVersion


@dataclass
class EvidenceVersion:
    version: SubjectVersion
    suppliers: list[str] = field(default_factory=list)  # vendor names, in the order they reported it
    differences: list[str] = field(default_factory=list)  # versus the version shown: "author", "text", ...

    @property
    def number(self) -> int:
        return self.version.version

    @property
    def conflict(self) -> bool:
        return bool(self.differences)


@dataclass
class CaseEvidence:
    shown: EvidenceVersion
    others: list[EvidenceVersion]

    @property
    def conflicts(self) -> list[EvidenceVersion]:
        return [other for other in self.others if other.conflict]

    @property
    def numbers(self) -> set[int]:
        return {self.shown.number} | {other.number for other in self.others}

    def get(self, number: int | None) -> EvidenceVersion | None:
        return next((item for item in (self.shown, *self.others) if item.number == number), None)


def _as_version(subject: Subject) -> SubjectVersion:
    """What the subject shows, as a version (a subject stored without its versions, e.g. by an old import)."""
    return SubjectVersion(
        subject=subject,
        version=subject.content_version,
        content_hash=subject.content_hash,
        author_id=subject.author_id,
        text=subject.text,
        media_urls=subject.media_urls,
        language=subject.language,
        url=subject.url,
        metadata=subject.metadata,
        vendor_id=subject.content_vendor_id,
        purged_at=subject.content_purged_at,
    )


def decided_version_among(decisions: list[Decision]) -> int | None:
    """`decided_version` read off the case's decisions, newest first (as `Decision.Meta.ordering` lists them)."""
    for decision in decisions:
        if (
            decision.mode == Decision.Mode.LIVE
            and decision.review_state != Decision.ReviewState.OVERTURNED
            and decision.subject_version is not None
        ):
            return decision.subject_version
    return None


def decided_version(case: Case) -> int | None:
    """The version the case's decision in force (or awaiting confirmation) was taken on."""
    return (
        Decision.objects.filter(case=case, mode=Decision.Mode.LIVE)
        .exclude(review_state=Decision.ReviewState.OVERTURNED)
        .exclude(subject_version__isnull=True)
        .order_by("-created_at", "-id")
        .values_list("subject_version", flat=True)
        .first()
    )


def case_evidence(
    case: Case,
    *,
    evidence_case: Case | None = None,
    shown_version: int | None = None,
    decided_known: bool = False,
) -> CaseEvidence:
    """The versions of `case`'s subject its reports carried (for an appeal: the appealed case's reports,
    `evidence_case`), the shown one first. Three queries, whatever the number of reports; two when the caller
    already knows the decided version (`decided_known`: `shown_version` is it, None for none)."""
    subject = case.subject
    source = evidence_case or case
    if shown_version is None and not decided_known and source.status != Case.Status.OPEN:
        shown_version = decided_version(source)
    shown_number = shown_version or subject.content_version
    carried = list(
        Report.objects.filter(case=source, carried_content=True)
        .order_by("received_at", "id")
        .values_list("subject_version", "vendor__name")
    )
    numbers = {shown_number} | {number for number, _ in carried}
    versions = {
        version.version: version
        for version in SubjectVersion.objects.filter(subject=subject, version__in=numbers).select_related(
            "vendor"
        )
    }
    if shown_number not in versions:
        versions[shown_number] = _as_version(subject)
    suppliers: dict[int, list[str]] = {}
    for number, vendor_name in carried:
        names = suppliers.setdefault(number, [])
        if vendor_name not in names:
            names.append(vendor_name)
    shown = versions[shown_number]
    if not suppliers.get(shown_number) and shown.vendor_id:
        suppliers[shown_number] = [shown.vendor.name]
    others = [
        EvidenceVersion(versions[number], suppliers.get(number, []), differences(shown, versions[number]))
        for number in sorted(versions)
        if number != shown_number
    ]
    return CaseEvidence(EvidenceVersion(shown, suppliers.get(shown_number, [])), others)


def differences(shown: SubjectVersion, other: SubjectVersion) -> list[str]:
    """What makes another version a conflict for the agent: not the same person, words, media or place."""
    found = []
    if (other.author_id or "") != (shown.author_id or ""):
        found.append("author")
    if (other.text or "") != (shown.text or ""):
        found.append("text")
    if list(other.media_urls or []) != list(shown.media_urls or []):
        found.append("media")
    if (other.url or "") != (shown.url or ""):
        found.append("address")
    return found


def shown_content(case: Case) -> SubjectVersion:
    """The version a case shows (see the module docstring): for media and reveals, which index is which."""
    number = decided_version(case) if case.status != Case.Status.OPEN else None
    subject = case.subject
    if number is None or number == subject.content_version:
        return _as_version(subject)
    return SubjectVersion.objects.filter(subject=subject, version=number).first() or _as_version(subject)
