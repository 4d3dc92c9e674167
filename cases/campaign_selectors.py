"""Reading campaigns for people: the case page's panel, the campaign page, and what a lead's campaign
decision would decide.

Who may see what: a member case is shown only if the viewer may see that case (`visible_cases`); the others
are counted ("n hidden"), never listed. For people not cleared for restricted content, restricted members
(child safety...) do not exist at all: not listed, not counted, not in the growth line, and nothing says the
campaign has any, since "1 hidden" or "key withheld (restricted)" next to a spam campaign already tells an
uncleared agent that their case is linked to a child-safety case. The shared key (a host or a picture's
SHA-256) is shown: every member holds it, the viewer's visible ones too. A campaign none of whose members
the viewer may see does not exist for them.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef
from django.db.models.functions import TruncDate
from django.utils import timezone

from cases.models import Campaign, CampaignMember, Case, SubjectTag
from queues.selectors import cleared_for_restricted, visible_cases

PANEL_MEMBERS_SHOWN = 10
PAGE_SIZE = 50
GROWTH_DAYS = 14
# A lead's campaign decision looks at this many open members per request (oldest first); the rest wait for
# the next one (the page says how many).
DECISION_LIMIT = 500
# The growth sparkline, drawn on the server (no script, no inline style: the page's CSP allows neither).
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 140, 28, 2


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    day: date
    count: int


@dataclass
class CampaignView:
    campaign: Campaign
    members: list[CampaignMember]  # the first ones the viewer may see (or one page of them)
    visible_count: int
    growth: list[DayCount]
    uncounted: int = 0  # restricted members, for a viewer not cleared for them: as if they did not exist
    page: Page | None = None
    joined_via: CampaignMember | None = None  # how the case the panel is on matched

    @property
    def member_count(self) -> int:
        return max(self.campaign.member_count - self.uncounted, 0)

    @property
    def hidden_count(self) -> int:
        return max(self.member_count - self.visible_count, 0)

    @property
    def bars(self) -> list[Bar]:
        top = max((day.count for day in self.growth), default=0) or 1
        width = (CHART_WIDTH - BAR_GAP * (len(self.growth) - 1)) // max(len(self.growth), 1)
        bars = []
        for index, day in enumerate(self.growth):
            height = round(day.count / top * (CHART_HEIGHT - 2)) if day.count else 0
            bars.append(
                Bar(index * (width + BAR_GAP), CHART_HEIGHT - height, width, height, day.day, day.count)
            )
        return bars


@dataclass
class DecisionPlan:
    """Which open members a lead's campaign decision would decide, and which it would skip and why."""

    decide: list[tuple[int, int]] = field(default_factory=list)  # (case id, version seen)
    protected: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    hidden: int = 0
    beyond_limit: int = 0


def case_campaigns(*, case: Case, user, now: datetime | None = None) -> list[CampaignView]:
    """The campaigns the case is in (one per kind at most), as the case page shows them: the memberships,
    two queries per campaign (its first visible members, an index walk that stops at the tenth; how many the
    viewer may see, case join only), and one for the growth of them all, whatever the campaigns' sizes."""
    now = now or timezone.now()
    memberships = list(CampaignMember.objects.filter(case=case).select_related("campaign").order_by("kind"))
    if not memberships:
        return []
    cleared = cleared_for_restricted(user)
    growth = _growth([membership.campaign_id for membership in memberships], now, cleared=cleared)
    views = []
    for membership in memberships:
        visible = _visible_members(membership.campaign, user)
        # Not a window count over the same rows: that joined every member of the campaign to its case, queue
        # and subject before the first ten could be returned (11 ms for 1,055 members, growing with them).
        members = list(
            visible.select_related("case__queue", "subject").defer(
                "subject__text", "subject__metadata", "subject__media_urls"
            )[:PANEL_MEMBERS_SHOWN]
        )
        view = CampaignView(
            campaign=membership.campaign,
            members=members,
            visible_count=visible.count(),  # one join per member, against the panel's four
            growth=growth[membership.campaign_id],
            uncounted=_uncounted(membership.campaign, cleared),
            joined_via=membership,
        )
        views.append(view)
    return views


def campaign_for(campaign_id: int, user) -> Campaign | None:
    """The campaign, if the user may see at least one of its members (else None: existence not confirmed)."""
    visible = CampaignMember.objects.filter(campaign_id=OuterRef("pk"), case__in=visible_cases(user))
    return Campaign.objects.filter(pk=campaign_id).filter(Exists(visible)).first()


def campaign_detail(*, campaign_id: int, user, page_number: int = 1, now: datetime | None = None):
    """The campaign page: one page of the members the viewer may see. None when there is no such campaign
    for them (`campaign_for`)."""
    now = now or timezone.now()
    campaign = campaign_for(campaign_id, user)
    if campaign is None:
        return None
    members = _visible_members(campaign, user).select_related("case__queue", "subject")
    paginator = Paginator(members, PAGE_SIZE)
    page = paginator.get_page(page_number)
    return _view(
        campaign, user, now, members=list(page.object_list), visible_count=paginator.count, page=page
    )


def decision_plan(*, campaign: Campaign, user, now: datetime | None = None) -> DecisionPlan:
    """What deciding the whole campaign would do for this lead now: the open members they may see and act
    on (with the version they are at, so a case that changes meanwhile is skipped, not overwritten), and
    those skipped: protected subjects (never actioned in bulk), cases someone else holds or that await a
    second review, and members the lead may not see (counted only). Two queries."""
    now = now or timezone.now()
    open_members = CampaignMember.objects.filter(campaign=campaign).exclude(case__status=Case.Status.RESOLVED)
    if not cleared_for_restricted(user):
        # "1 you may not see" must not count a child-safety case for an uncleared lead.
        open_members = open_members.exclude(case__is_restricted=True)
    total_open = open_members.count()
    protected_tag = SubjectTag.objects.filter(subject_id=OuterRef("subject_id"), tag__is_protected=True)
    rows = list(
        visible_cases(user)
        .filter(pk__in=open_members.values("case_id"), kind=Case.Kind.REPORT)
        .exclude(status=Case.Status.RESOLVED)
        .annotate(protected_tag=Exists(protected_tag))
        .order_by("opened_at", "pk")
        .values_list(
            "pk",
            "version",
            "status",
            "assignee_id",
            "lease_expires_at",
            "subject__is_protected",
            "protected_tag",
        )[: DECISION_LIMIT + 1]
    )
    plan = DecisionPlan()
    if len(rows) > DECISION_LIMIT:
        rows = rows[:DECISION_LIMIT]
        plan.beyond_limit = -1  # set below, once the visible total is known
    for case_id, version, status, assignee_id, lease_expires_at, is_protected, has_protected_tag in rows:
        if is_protected or has_protected_tag:
            plan.protected.append(case_id)
        elif status == Case.Status.PENDING_CONFIRMATION or (
            assignee_id not in (None, user.pk) and lease_expires_at is not None and lease_expires_at > now
        ):
            plan.held.append(case_id)
        else:
            plan.decide.append((case_id, version))
    if plan.beyond_limit:
        visible_open = visible_cases(user).filter(pk__in=open_members.values("case_id")).count()
        plan.beyond_limit = visible_open - DECISION_LIMIT
        plan.hidden = total_open - visible_open
    else:
        plan.hidden = total_open - len(rows)
    return plan


def _visible_members(campaign: Campaign, user):
    return CampaignMember.objects.filter(campaign=campaign, case__in=visible_cases(user)).order_by(
        "joined_at", "id"
    )


def _view(campaign: Campaign, user, now: datetime, **parts) -> CampaignView:
    cleared = cleared_for_restricted(user)
    return CampaignView(
        campaign=campaign,
        growth=_growth([campaign.pk], now, cleared=cleared)[campaign.pk],
        uncounted=_uncounted(campaign, cleared),
        **parts,
    )


def _uncounted(campaign: Campaign, cleared: bool) -> int:
    """The restricted members a viewer not cleared for them must not count (one query, only for a campaign
    that has any)."""
    if cleared or not campaign.is_restricted:
        return 0
    return CampaignMember.objects.filter(campaign=campaign, case__is_restricted=True).count()


def _growth(campaign_ids: list[int], now: datetime, *, cleared: bool) -> dict[int, list[DayCount]]:
    """Members joined per day over the last GROWTH_DAYS days, per campaign, in one query. Members the viewer
    may not see count (a number of spam cases reveals no case), restricted ones only for the cleared: a bar
    that grows with a child-safety case tells an uncleared viewer it exists."""
    start = timezone.localdate(now) - timedelta(days=GROWTH_DAYS - 1)
    start_at = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    members = CampaignMember.objects.filter(campaign_id__in=campaign_ids, joined_at__gte=start_at)
    if not cleared:
        members = members.exclude(case__is_restricted=True)
    counts = {
        (campaign_id, day): n
        for campaign_id, day, n in members.annotate(day=TruncDate("joined_at"))
        .values("campaign_id", "day")
        .annotate(n=Count("id"))
        .values_list("campaign_id", "day", "n")
    }
    days = [start + timedelta(days=i) for i in range(GROWTH_DAYS)]
    return {
        campaign_id: [DayCount(day, counts.get((campaign_id, day), 0)) for day in days]
        for campaign_id in campaign_ids
    }
