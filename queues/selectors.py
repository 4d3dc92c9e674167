"""Read-side queries for routing."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from cases.models import CLAIMABLE_STATUSES, Case, Decision
from moderation.config_cache import ConfigCache

# Moved to their own modules; still importable from here.
from queues.facts_selectors import (  # noqa: F401
    CaseFacts,
    case_facts,
    model_lead_boost,
    rules_use_velocity,
)
from queues.models import Queue, QueueClearance, QueueStar, RoutingRule, automation_condition_errors
from queues.page_selectors import case_list_rows, queue_cases, tags_by_subject  # noqa: F401

logger = logging.getLogger(__name__)


def _load_routing_config() -> tuple[list[RoutingRule], Queue | None]:
    """Evaluated rules (live and shadow, with everything matching needs, prefetched) and the default queue."""
    rules = list(
        RoutingRule.objects.filter(state__in=(RoutingRule.State.LIVE, RoutingRule.State.SHADOW))
        .select_related("target_queue", "auto_action", "auto_policy")
        .prefetch_related("policies", "vendors", "score_conditions")
        .order_by("position", "id")
    )
    for rule in rules:
        if rule.automation_mode != RoutingRule.AutomationMode.OFF and not rule.automation_is_attributable:
            logger.warning(
                "routing rule %s (%s) is skipped: %s",
                rule.pk,
                rule.name,
                " ".join(automation_condition_errors(rule.score_conditions.all())),
            )
    return rules, Queue.objects.filter(is_default=True, is_active=True).first()


# Read for every case a worker routes, so cached; saving a rule, condition, queue, policy, action or vendor
# clears it (`queues.apps`).
_routing_config = ConfigCache(_load_routing_config)
forget_routing_config = _routing_config.forget


def active_rules() -> list[RoutingRule]:
    return _routing_config.get()[0]


def default_queue() -> Queue | None:
    return _routing_config.get()[1]


@dataclass(frozen=True)
class ShadowScore:
    """How a shadow rule's verdicts compare with what people later decided on the same cases."""

    recorded: int  # shadow decisions the rule recorded
    reviewed: int  # …on cases a person has since decided
    agreed: int  # …where the person took the same action

    @property
    def precision(self) -> float | None:
        return self.agreed / self.reviewed if self.reviewed else None


def shadow_scores(rule_ids: list[int]) -> dict[int, ShadowScore]:
    """Per rule: shadow decisions, how many were reviewed by a person, and how many the person agreed with.

    The person's verdict is the latest live, non-automated decision on the case. Two queries for any number of
    rules (admin list pages call this once per page).
    """
    shadows = list(
        Decision.objects.filter(rule_id__in=rule_ids, mode=Decision.Mode.SHADOW).values_list(
            "rule_id", "case_id", "action_id"
        )
    )
    human: dict[int, int] = {}
    for case_id, action_id in (
        Decision.objects.filter(
            case_id__in={case_id for _, case_id, _ in shadows},
            mode=Decision.Mode.LIVE,
            automated=False,
            review_state__in=Decision.IN_FORCE,
        )
        .order_by("case_id", "created_at", "id")
        .values_list("case_id", "action_id")
    ):
        human[case_id] = action_id  # ordered: the last one wins
    counts: dict[int, list[int]] = {rule_id: [0, 0, 0] for rule_id in rule_ids}
    for rule_id, case_id, action_id in shadows:
        tally = counts[rule_id]
        tally[0] += 1
        if case_id in human:
            tally[1] += 1
            tally[2] += human[case_id] == action_id
    return {rule_id: ShadowScore(*tally) for rule_id, tally in counts.items()}


# --- Who sees which queue. Every view and API that shows a case goes through these. ---


def can_see_all_queues(user) -> bool:
    """Superusers, and leads (permission `queues.view_all_queues`) for every unrestricted queue."""
    return user.is_active and (user.is_superuser or user.has_perm("queues.view_all_queues"))


# `queues.view_all_queues`, granted directly or through a group, asked in the same statement: has_perm would
# load every permission of the user first (two more queries on every request that only needs this one).
_SEES_ALL_SQL = """(
    EXISTS (
        SELECT 1 FROM {user_perms} AS up JOIN {permission} AS p ON p.id = up.permission_id
        JOIN {content_type} AS ct ON ct.id = p.content_type_id
        WHERE up.user_id = %s AND ct.app_label = 'queues' AND p.codename = 'view_all_queues'
    ) OR EXISTS (
        SELECT 1 FROM {user_groups} AS pug JOIN {group_perms} AS gp ON gp.group_id = pug.group_id
        JOIN {permission} AS p ON p.id = gp.permission_id JOIN {content_type} AS ct ON ct.id = p.content_type_id
        WHERE pug.user_id = %s AND ct.app_label = 'queues' AND p.codename = 'view_all_queues'
    )
)"""

# Which queues a user may see (`_queue_access`), as a condition on `q`: also `queue_for_user`'s, so the
# rule is written once.
_VISIBLE_QUEUE_CONDITION = """q.is_active AND (
    EXISTS (SELECT 1 FROM {members} AS m WHERE m.queue_id = q.id AND m.user_id = %s)
    OR EXISTS (
        SELECT 1 FROM {member_groups} AS g JOIN {user_groups} AS ug ON ug.group_id = g.group_id
        WHERE g.queue_id = q.id AND ug.user_id = %s
    )
    OR ({sees_all} AND NOT q.is_restricted)
) AND (
    NOT q.is_restricted
    OR EXISTS (
        SELECT 1 FROM {clearance} AS c
        WHERE c.queue_id = q.id AND c.user_id = %s AND (c.expires_at IS NULL OR c.expires_at > %s)
    )
)"""
_VISIBLE_QUEUES_SQL = (
    """SELECT q.id, q.is_restricted, {sees_all} AS sees_all FROM {queue} AS q WHERE {condition}"""
)
_VISIBLE_QUEUE_BY_SLUG_SQL = """SELECT {columns}, EXISTS (
    SELECT 1 FROM {star} AS s WHERE s.queue_id = q.id AND s.user_id = %s
) AS starred FROM {queue} AS q WHERE q.slug = %s AND {condition}"""


def visible_queue_ids(user) -> frozenset[int]:
    """Queues the user may see and work: memberships (direct or through a team group); holders of
    `queues.view_all_queues` add every unrestricted one.

    Restricted queues (e.g. child safety) need a membership *and* a current `QueueClearance`, whatever the
    user's permissions; superusers see everything.
    Memoised on the user object, so a request pays for it once.
    """
    return _queue_access(user)[0]


def _queue_access(user) -> tuple[frozenset[int], frozenset[int], bool]:
    """(visible queue ids, the restricted ones among them, cleared for every restricted queue), memoised."""
    if not user.is_authenticated or not user.is_active:
        return frozenset(), frozenset(), False
    cached = getattr(user, "_queue_access", None)
    if cached is not None:
        return cached
    if user.is_superuser:
        rows = list(Queue.objects.filter(is_active=True).values_list("pk", "is_restricted"))
    else:
        # Hand-written: it runs on every request, and the ORM spends longer building it than the database
        # spends answering (about 1 ms of the 2 ms it took; bench/claim.py).
        tables = _visibility_tables(user)
        sql = _VISIBLE_QUEUES_SQL.format(condition=_VISIBLE_QUEUE_CONDITION.format(**tables), **tables)
        params = [*(user.pk, user.pk), *_visibility_params(user)]  # sees_all (selected), the condition
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    ids = frozenset(row[0] for row in rows)
    restricted = frozenset(row[0] for row in rows if row[1])
    # Every row carries the permission; with no row at all, ask has_perm (rare: no queue to see).
    sees_all = user.is_superuser or (bool(rows[0][2]) if rows else can_see_all_queues(user))
    if user.is_superuser:
        everywhere = True
    elif not sees_all:
        everywhere = False
    else:
        # Only someone who sees every active restricted queue may see what has no queue yet: an unrouted
        # case could be anything ("restricted until proven otherwise").
        everywhere = not Queue.objects.filter(is_active=True, is_restricted=True).exclude(pk__in=ids).exists()
    user._queue_access = (ids, restricted, everywhere)
    return user._queue_access


def cleared_for_restricted(user) -> bool:
    """Cleared for at least one restricted queue (or a superuser): may see restricted evidence that turns
    up outside a restricted case, such as a picture also reported in one."""
    return bool(user.is_authenticated and (user.is_superuser or _queue_access(user)[1]))


def restricted_triage_queue() -> Queue:
    """Where a restricted case goes when no rule sends it to a restricted queue (created on first use)."""
    queue, _ = Queue.objects.get_or_create(
        slug=settings.RESTRICTED_TRIAGE_QUEUE_SLUG,
        defaults={"name": "Restricted triage", "is_restricted": True, "sla_hours": 24},
    )
    return queue


def visible_queues(user) -> QuerySet[Queue]:
    return Queue.objects.filter(pk__in=visible_queue_ids(user)).order_by("name")


def visible_cases(user) -> QuerySet[Case]:
    """Cases the user may see. Every page, fragment, export and admin list that shows a case, or anything
    derived from one (audit rows, history, strikes, appeals), filters through this or `can_view_case`.

    - an open case: in one of the user's queues;
    - a restricted case (restricted policy or subject): only in a restricted queue the user is cleared for;
    - an unrouted case, or a restricted one found outside a restricted queue: only superusers and people
      cleared for every restricted queue (with `queues.view_all_queues`) — restricted until proven otherwise.
    """
    condition = visible_case_condition(user)
    return Case.objects.all() if condition is None else Case.objects.filter(condition)


def visible_case_condition(user) -> Q | None:
    """`visible_cases` as a condition on `queue_id`, `queue` and `is_restricted` (None: everything), for rows
    that carry those two facts of a case themselves (the dashboards' hourly roll-ups)."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser:
        return None
    ids, restricted, everywhere = _queue_access(user)
    condition = Q(queue_id__in=ids, is_restricted=False) | Q(queue_id__in=restricted)
    if everywhere:
        condition |= Q(queue__isnull=True) | Q(queue_id__in=ids)
    return condition


def visible_audit_events(user, events: QuerySet) -> QuerySet:
    """Audit events a user may read: those about cases they can see, and those about no case at all.

    Events about a case carry what was in it (a media URL revealed, a note, a decision reason), so the log
    follows the same rule as the case pages: a lead without clearance learns nothing of child safety here.
    """
    if not user.is_authenticated or not user.is_active:
        return events.none()
    if user.is_superuser:
        return events
    return events.filter(Q(case_id__isnull=True) | Q(case_id__in=visible_cases(user).values("pk")))


def can_view_case(user, case: Case) -> bool:
    """`visible_cases` for one loaded case, without a query (beyond the memoised queue access)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    ids, restricted, everywhere = _queue_access(user)
    if case.queue_id is None:
        return everywhere
    if case.queue_id in restricted or (everywhere and case.queue_id in ids):
        return True
    return case.queue_id in ids and not case.is_restricted


# --- The agent's dashboard and queue page ---------------------------------------------------------------


@dataclass
class QueueStats:
    queue: Queue
    waiting: int = 0
    in_review: int = 0
    overdue: int = 0
    oldest_opened_at: datetime | None = None
    my_case_id: int | None = None


def _all_queue_counts() -> dict[int, dict]:
    """Unresolved cases per queue, for every queue: one aggregate, shared by all agents for a few seconds.

    Every agent's dashboard polls this; computing it once per `QUEUE_STATS_CACHE_SECONDS` for everybody
    keeps the cost flat in the number of agents (it scans each queue's unresolved cases).
    """

    def compute() -> dict[int, dict]:
        now = timezone.now()
        rows = (
            Case.objects.exclude(status=Case.Status.RESOLVED)
            .filter(queue__isnull=False)
            .values("queue_id")
            .annotate(
                waiting=Count("pk", filter=Q(assignee__isnull=True, status__in=CLAIMABLE_STATUSES)),
                in_review=Count("pk", filter=Q(assignee__isnull=False)),
                overdue=Count("pk", filter=Q(sla_due_at__lt=now)),
                oldest=Min("opened_at", filter=Q(assignee__isnull=True)),
            )
        )
        return {row["queue_id"]: row for row in rows}

    seconds = settings.QUEUE_STATS_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    return cache.get_or_set("queues:stats:v1", compute, seconds)


def dashboard(user) -> list[QueueStats]:
    """The user's queues with waiting / in review / past SLA counts, oldest waiting case, and their own claim."""
    queues = list(visible_queues(user))
    counts = _all_queue_counts()
    mine = dict(
        Case.objects.filter(
            assignee=user, lease_expires_at__gt=timezone.now(), queue_id__in=[q.pk for q in queues]
        )
        .exclude(status=Case.Status.RESOLVED)
        .values_list("queue_id", "pk")
    )
    stats = []
    for queue in queues:
        row = counts.get(queue.pk, {})
        stats.append(
            QueueStats(
                queue=queue,
                waiting=row.get("waiting", 0),
                in_review=row.get("in_review", 0),
                overdue=row.get("overdue", 0),
                oldest_opened_at=row.get("oldest"),
                my_case_id=mine.get(queue.pk),
            )
        )
    return stats


def queue_for_user(user, slug: str) -> Queue | None:
    """The active queue `slug` if the user may see it (the rule of `visible_queue_ids`, asked of this queue
    alone: one statement). It says whether they starred it (`starred_for`, read by
    `saved_view_selectors.is_starred`: the queue page asks)."""
    if not user.is_authenticated or not user.is_active:
        return None
    starred = Exists(QueueStar.objects.filter(queue_id=OuterRef("pk"), user_id=user.pk))
    if user.is_superuser:  # every active queue
        queue = Queue.objects.filter(slug=slug, is_active=True).annotate(starred=starred).first()
        if queue is None:
            return None
    else:
        tables = _visibility_tables(user)
        sql = _VISIBLE_QUEUE_BY_SLUG_SQL.format(
            columns=", ".join(f"q.{field.column}" for field in Queue._meta.concrete_fields),
            star=QueueStar._meta.db_table,
            condition=_VISIBLE_QUEUE_CONDITION.format(**tables),
            **tables,
        )
        # raw(): the backend's converters apply (SQLite's booleans and dates), as for any ORM read.
        queue = next(iter(Queue.objects.raw(sql, [user.pk, slug, *_visibility_params(user)])), None)
        if queue is None:
            return None
        queue.starred = bool(queue.starred)
    queue.starred_for = {user.pk: queue.starred}
    return queue


def _visibility_tables(user) -> dict[str, str]:
    tables = {
        "user_groups": user.groups.through._meta.db_table,
        "user_perms": user.user_permissions.through._meta.db_table,
        "group_perms": Group.permissions.through._meta.db_table,
        "permission": Permission._meta.db_table,
        "content_type": ContentType._meta.db_table,
    }
    return {
        "sees_all": _SEES_ALL_SQL.format(**tables),
        "queue": Queue._meta.db_table,
        "members": Queue.members.through._meta.db_table,
        "member_groups": Queue.member_groups.through._meta.db_table,
        "clearance": QueueClearance._meta.db_table,
        **tables,
    }


def _visibility_params(user) -> list:
    """The parameters of `_VISIBLE_QUEUE_CONDITION`, in order."""
    return [
        user.pk,  # a member
        user.pk,  # through a team
        *(user.pk, user.pk),  # sees_all
        user.pk,  # cleared
        connection.ops.adapt_datetimefield_value(timezone.now()),
    ]


def auto_paused_rules(*, limit: int = 20) -> list[RoutingRule]:
    """Rules the surge guard paused and nobody has turned back on yet (the leads' dashboard alert)."""
    return list(
        RoutingRule.objects.filter(state=RoutingRule.State.PAUSED, auto_paused_at__isnull=False)
        .only("pk", "name", "auto_paused_at", "auto_pause_note")
        .order_by("-auto_paused_at")[:limit]
    )
