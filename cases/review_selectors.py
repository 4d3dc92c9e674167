"""The agent's case page: everything it shows, read in a fixed number of statements whatever the case's
size (`case_review`), and the pieces its fragments re-read (header, viewers, media)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery

from cases.content_display import url_host
from cases.counters import VelocityReading, velocity_panel
from cases.evidence import case_evidence, decided_version_among
from cases.models import (
    Appeal,
    Case,
    CaseNote,
    CaseViewer,
    Decision,
    Enforcement,
    MediaFile,
    Report,
    Signal,
    Strike,
    Subject,
    Tag,
    VendorCallback,
    protection_reasons,
)
from cases.selectors import media_url_hash, review_config
from cases.track_record import reporters_for
from moderation.models import Action, Policy
from queues.selectors import cleared_for_restricted, visible_cases

REVIEW_REPORTS_SHOWN = 50
REVIEW_SIGNALS_SHOWN = 100
REVIEW_HISTORY_SHOWN = 20
REVIEW_DECISIONS_SHOWN = 20
TEXT_SHOWN_CHARS = 20_000


@dataclass
class MediaItem:
    index: int
    url: str
    stored: "MediaFile | None"

    @property
    def host(self) -> str:
        return url_host(self.url)

    # Also evidence in a restricted case, and this user is not cleared for restricted content.
    withheld: bool = False

    @property
    def viewable(self) -> bool:
        return self.stored is not None and self.stored.state == self.stored.State.STORED and not self.withheld


@dataclass
class CaseReview:
    """Everything the review page shows, loaded in a fixed number of queries whatever the case's size."""

    case: Case
    reports: list[Report]
    signals: list[Signal]
    decisions: list[Decision]
    enforcements: list[Enforcement]
    vendor_callbacks: list[VendorCallback]
    notes: list[CaseNote]
    tags: list[Tag]
    curated_tags: list[Tag]
    media: list[MediaItem]
    author_history: list[Case]
    author_enforcements: int
    strikes: list[Strike]
    same_content_open: list[Case]
    viewers: list[CaseViewer]
    policies: list[Policy]
    escalation_queues: list
    pending_decision: Decision | None = None
    # (vendor id, reporter id) → Reporter: track record and mute state, for the reports shown.
    reporters: dict = field(default_factory=dict)
    # Protected tags on the subject the user may not act on (empty when they may): the page says why.
    protection: list[str] = field(default_factory=list)
    appeal: "Appeal | None" = None
    appealed_case_visible: bool = False
    # The content version shown and the others this case's reports carried (`cases.evidence`).
    evidence: Any = None
    text_truncated: bool = False
    now: datetime | None = None
    escalation_default: int | None = None  # the queue the Escalate list preselects
    lease_is_mine: bool = False
    held_by_other: bool = False
    # The velocity counters around the case (`cases.counters`), labelled for the page.
    velocity: list[VelocityReading] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def review_case(case_id: int, *, user=None) -> Case | None:
    """The case with what the page header needs, or None. With `user`, only among the cases they may see:
    a restricted case then answers exactly as a missing id (one query, same path)."""
    cases = visible_cases(user) if user is not None else Case.objects.all()
    return (
        cases.select_related(
            "subject", "subject__content_purged_under", "policy", "queue", "assignee", "routed_by_rule"
        )
        .filter(pk=case_id)
        .first()
    )


def case_review(*, case: Case, user, now: datetime) -> CaseReview:
    subject = case.subject
    appeal = None
    if case.kind == Case.Kind.APPEAL:
        appeal = (
            Appeal.objects.select_related(
                "decision__action",
                "decision__policy",
                "decision__decided_by",
                "decision__reviewed_by",
                "decision__case",
                "vendor",
            )
            .filter(appeal_case=case)
            .first()
        )
    # An appeal is reviewed on the evidence of the decision it contests: the original case's reports and
    # signals, and the content version that decision was taken on, beside the user's statement.
    evidence_case = appeal.decision.case if appeal is not None else case
    decisions = list(
        Decision.objects.filter(case=case).select_related(
            "action", "policy", "decided_by", "rule", "withdrawn_by"
        )[:REVIEW_DECISIONS_SHOWN]
    )
    if appeal is not None:
        evidence = case_evidence(
            case, evidence_case=evidence_case, shown_version=appeal.decision.subject_version
        )
    elif len(decisions) < REVIEW_DECISIONS_SHOWN:  # all of them: the decided version is among them
        decided = decided_version_among(decisions) if case.status != Case.Status.OPEN else None
        evidence = case_evidence(case, shown_version=decided, decided_known=True)
    else:
        evidence = case_evidence(case)
    content = evidence.shown.version
    reports = list(
        Report.objects.filter(case=evidence_case)
        .select_related("vendor", "policy")
        .order_by("-received_at", "-id")[:REVIEW_REPORTS_SHOWN]
    )
    reporter_records = _reporter_records(reports)
    signals = list(
        Signal.objects.filter(case=evidence_case).order_by("source", "-score", "label")[:REVIEW_SIGNALS_SHOWN]
    )
    # Enforcements and callbacks exist only for a decision on this case: an undecided case (what an agent
    # opens most) has none to look for.
    deliveries = (
        list(Enforcement.objects.filter(case=case).order_by("-created_at", "-id")[:20]) if decisions else []
    )
    vendor_callbacks = (
        list(
            VendorCallback.objects.filter(case=case)
            .select_related("vendor")
            .order_by("-created_at", "-id")[:20]
        )
        if decisions
        else []
    )
    notes = list(
        CaseNote.objects.filter(case=case).select_related("author").order_by("-created_at", "-id")[:100]
    )
    tags = list(Tag.objects.filter(subject_tags__subject=subject).order_by("slug"))
    media_urls = [str(url) for url in (content.media_urls or [])][:20]
    stored = {}
    if media_urls:
        hashes = {media_url_hash(url): url for url in media_urls}
        stored = {
            item.url_hash: item for item in MediaFile.objects.filter(url_hash__in=hashes).defer("content")
        }
    withheld = withheld_media(list(stored.values()), case=case, user=user)
    media = [
        MediaItem(i, url, stored.get(media_url_hash(url)), media_url_hash(url) in withheld)
        for i, url in enumerate(media_urls)
    ]

    # Related cases only from what this user may see: a restricted team's cases (child safety, say) must not
    # leak into an ordinary queue's page through the author's history, a shared content hash or a count.
    visible = visible_cases(user)
    history: list[Case] = []
    strikes: list[Strike] = []
    author_enforcements = 0
    author_id = content.author_id  # the author of the version shown, not whoever a later report named
    if author_id:
        last_decision = Decision.objects.filter(
            case=OuterRef("pk"), mode=Decision.Mode.LIVE, review_state__in=Decision.IN_FORCE
        ).order_by("-created_at", "-id")
        history = list(
            visible.filter(subject__author_id=author_id)
            .exclude(pk=case.pk)
            .select_related("subject", "policy", "queue")
            .defer("subject__text", "subject__metadata", "subject__media_urls")
            .annotate(
                last_action=Subquery(last_decision.values("action__name")[:1]),
                last_action_kind=Subquery(last_decision.values("action__kind")[:1]),
                last_policy=Subquery(last_decision.values("policy__name")[:1]),
            )
            .order_by("-opened_at")[:REVIEW_HISTORY_SHOWN]
        )
        strikes = list(
            Strike.objects.filter(
                author_id=author_id,
                removed_at__isnull=True,
                decision__case__in=visible,
            )
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
            .select_related("policy")[:20]
        )
        author_enforcements = (
            Decision.objects.filter(
                case__in=visible.filter(subject__author_id=author_id),
                mode=Decision.Mode.LIVE,
                review_state__in=Decision.IN_FORCE,
            )
            .exclude(action__kind__in=[Action.Kind.NO_VIOLATION, Action.Kind.ESCALATE])
            .count()
        )
    same_content = []
    if content.content_hash and (content.text or content.media_urls):
        same_content = list(
            visible.filter(subject__content_hash=content.content_hash)
            .exclude(subject_id=subject.pk)
            .exclude(status=Case.Status.RESOLVED)
            .select_related("subject", "queue")
            .defer("subject__text", "subject__metadata", "subject__media_urls")
            .order_by("-opened_at")[:REVIEW_HISTORY_SHOWN]
        )
    viewers = list(
        CaseViewer.objects.filter(case=case, last_seen_at__gte=now - presence_window())
        .exclude(user=user)
        .select_related("user")
        .order_by("user__username")
    )
    appealed_case_visible = appeal is not None and visible.filter(pk=appeal.decision.case_id).exists()
    config = review_config()
    # Restricted content is escalated only to restricted queues (the service refuses the others too).
    escalation_queues = [
        queue
        for queue in config.queues
        if queue.pk != case.queue_id and (queue.is_restricted or not case.is_restricted)
    ]
    # The case's policy's escalation queue first (preselected), never merely the alphabetical first.
    preferred = config.escalation_queue_by_policy.get(case.policy_id)
    escalation_queues.sort(key=lambda queue: queue.pk != preferred)
    return CaseReview(
        case=case,
        reports=reports,
        signals=signals,
        decisions=decisions,
        enforcements=deliveries,
        vendor_callbacks=vendor_callbacks,
        notes=notes,
        tags=tags,
        curated_tags=config.curated_tags,
        media=media,
        author_history=history,
        author_enforcements=author_enforcements,
        strikes=strikes,
        same_content_open=same_content,
        viewers=viewers,
        policies=config.policies,
        escalation_queues=escalation_queues,
        appeal=appeal,
        appealed_case_visible=appealed_case_visible,
        reporters=reporter_records,
        protection=[]
        if user.is_superuser or user.has_perm("cases.act_on_protected")
        else protection_shown(subject, tags),
        pending_decision=next((d for d in decisions if d.review_state == Decision.ReviewState.PENDING), None),
        text_truncated=len(content.text or "") > TEXT_SHOWN_CHARS,
        evidence=evidence,
        now=now,
        escalation_default=preferred if any(q.pk == preferred for q in escalation_queues) else None,
        lease_is_mine=case.assignee_id == user.pk and case.lease_is_live(now),
        held_by_other=case.assignee_id not in (None, user.pk) and case.lease_is_live(now),
        velocity=velocity_panel(subject, cleared_for_restricted=cleared_for_restricted(user)),
    )


def protection_shown(subject: Subject, tags) -> list[str]:
    """Why an agent may not decide the subject, as `refuse_if_protected` will say, from what the page has
    already loaded (the subject and its tags)."""
    return protection_reasons(
        subject.is_protected, subject.protected_reason, [tag.slug for tag in tags if tag.is_protected]
    )


def presence_window() -> timedelta:
    # Two missed heartbeats and a bit: a closed tab disappears within about a minute.
    return timedelta(seconds=settings.CASE_HEARTBEAT_SECONDS * 2 + 5)


def case_viewers(*, case_id: int, user, now: datetime) -> list[CaseViewer]:
    return list(
        CaseViewer.objects.filter(case_id=case_id, last_seen_at__gte=now - presence_window())
        .exclude(user=user)
        .select_related("user")
        .order_by("user__username")
    )


def withheld_media(stored: list[MediaFile], *, case: Case, user) -> set[str]:
    """URL hashes of stored copies this user may not see on this (open) case: pictures that are also evidence
    in a restricted case, under this URL or any other with the same bytes. One query, only when needed."""
    if not stored or case.is_restricted or cleared_for_restricted(user):
        return set()
    digests = {item.sha256 for item in stored if item.sha256}
    restricted = (
        set(MediaFile.objects.filter(is_restricted=True, sha256__in=digests).values_list("sha256", flat=True))
        if digests
        else set()
    )
    return {item.url_hash for item in stored if item.is_restricted or item.sha256 in restricted}


def _reporter_records(reports: list[Report]) -> dict:
    records = reporters_for(
        (report.vendor_id, report.reporter_id) for report in reports if report.reporter_id
    )
    for report in reports:
        report.record = records.get((report.vendor_id, report.reporter_id))
    return records
