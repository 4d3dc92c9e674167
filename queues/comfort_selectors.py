"""Reads for the header and the wellness pages: the badges (what waits for me) and the team's exposure.

Both go through the visibility rules (`queues.selectors.visible_cases`, `visible_audit_events`): a restricted
case someone is not cleared for is never counted in their badges, and a lead's team figures only include
reveals on cases the lead may see.
"""

from dataclasses import dataclass
from datetime import datetime
from statistics import median

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from cases.delivery_health import delivery_alert
from cases.models import Appeal, Case, Decision
from moderation.comfort import Comfort, day_start, exposure_seconds, reveal_times
from moderation.models import AuditEvent
from queues.selectors import visible_audit_events, visible_cases


def is_lead(user) -> bool:
    """Who sees the leads' figures (the same test as the dashboard's delivery alarm)."""
    return user.is_superuser or user.has_perm("cases.view_case")


@dataclass(frozen=True)
class Badges:
    escalations: int = 0
    confirmations: int = 0
    appeals: int = 0
    failing_deliveries: int | None = None  # None: not a lead (the badge is not shown)

    @property
    def total(self) -> int:
        return self.escalations + self.confirmations + self.appeals + (self.failing_deliveries or 0)


WAITING_KINDS = ("escalations", "confirmations", "appeals")


def _waiting(user):
    """The cases that may wait on `user` (visible, not held by someone else, not resolved), annotated with
    what tells the badges apart: one definition for the counts and for the list behind each badge."""
    mine = Decision.objects.filter(
        case=OuterRef("pk"), review_state=Decision.ReviewState.PENDING, decided_by=user
    )
    involved = Appeal.objects.filter(appeal_case=OuterRef("pk")).filter(
        Q(decision__decided_by=user) | Q(decision__reviewed_by=user)
    )
    free = Q(assignee__isnull=True) | Q(assignee=user)
    return (
        visible_cases(user)
        .filter(free)
        .exclude(status=Case.Status.RESOLVED)
        .annotate(my_decision=Exists(mine), my_appeal=Exists(involved))
    )


WAITING_FILTERS = {
    "escalations": Q(status=Case.Status.ESCALATED),
    "confirmations": Q(status=Case.Status.PENDING_CONFIRMATION, my_decision=False),
    "appeals": Q(kind=Case.Kind.APPEAL, my_appeal=False),
}


def header_badges(user) -> Badges:
    """What waits for `user`, counted in one query (two for leads: the outbox's alarm is a second one).

    - escalations: escalated cases in queues they may see, not held by someone else;
    - confirmations: decisions awaiting a second reviewer that they did not make (they may confirm them);
    - appeals: open appeals on decisions they neither made nor confirmed (they may review them);
    - failing deliveries (leads): enforcements and callbacks failing or given up.
    """
    counts = _waiting(user).aggregate(
        **{kind: Count("pk", filter=WAITING_FILTERS[kind]) for kind in WAITING_KINDS}
    )
    failing = None
    if is_lead(user):
        alert = delivery_alert(user)
        failing = alert.failing + alert.failed
    return Badges(counts["escalations"], counts["confirmations"], counts["appeals"], failing)


def waiting_cases(user, kind: str, *, limit: int = 100) -> list[Case]:
    """The cases behind one badge, most urgent first (one query): what the badge counted, to open one."""
    return list(
        _waiting(user)
        .filter(WAITING_FILTERS[kind])
        .select_related("queue", "subject", "policy")
        .order_by("-priority", "opened_at", "pk")[:limit]
    )


# Fewer people than this and an aggregate describes someone: the figures are withheld.
MIN_PEOPLE = 3


@dataclass(frozen=True)
class TeamExposure:
    """Today's exposure across people, never per person: how many, the median and the most, how many past
    the organisation's budget."""

    people: int
    median_minutes: int
    most_minutes: int
    over_budget: int
    budget_minutes: int

    @property
    def shown(self) -> bool:
        return self.people >= MIN_PEOPLE


def team_exposure(
    lead, comfort: Comfort, *, budget_minutes: int, now: datetime | None = None
) -> TeamExposure:
    """Aggregated exposure today (the lead's day) from reveals on cases the lead may see (one query)."""
    now = now or timezone.now()
    events = visible_audit_events(lead, AuditEvent.objects.all())
    per_person = reveal_times(actor_ids=None, since=day_start(comfort, now), events=events)
    minutes = sorted(int(exposure_seconds(times) // 60) for times in per_person.values())
    if len(minutes) < MIN_PEOPLE:
        return TeamExposure(len(minutes), 0, 0, 0, budget_minutes)
    over = sum(1 for value in minutes if budget_minutes and value >= budget_minutes)
    return TeamExposure(len(minutes), int(median(minutes)), minutes[-1], over, budget_minutes)
