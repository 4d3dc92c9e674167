"""What the queue page lists: the queue's cases, the columns a row shows, one keyset page of them."""

from django.db.models import F, QuerySet
from django.db.models.functions import Substr

from cases.models import Case, SubjectTag
from queues.keyset import NEXT, PREVIOUS, KeysetPage, SortKey, decode_cursor, encode_cursor, page_after
from queues.models import Queue

# What templatetags/case_rows.py shows plus every sort key of queues.filters.SORTS.
ROW_FIELDS = (
    "id",
    "subject_id",
    "queue_id",
    "is_restricted",
    "status",
    "priority",
    "max_score",
    "report_count",
    "opened_at",
    "sla_due_at",
    "last_reported_at",
    "policy__name",
    "assignee__username",
)


def queue_cases(queue: Queue) -> QuerySet[Case]:
    """The queue's cases, to filter; `case_list_rows` adds what a list row shows. An open queue never lists
    a restricted case (nor its snippet), even one that was left there."""
    cases = Case.objects.filter(queue=queue)
    return cases if queue.is_restricted else cases.filter(is_restricted=False)


def case_list_rows(cases: QuerySet[Case]) -> QuerySet[Case]:
    """What a queue page row shows, without loading whole subject texts.

    Kept apart from filtering so the page count runs on the bare filter (no join to subjects): on a queue of
    50,000 cases that is an index-only count instead of a join (bench/pages.py).
    """
    # Only the columns a row and the keyset cursors read: a case has ~30 columns and a user ~10, and loading
    # 50 whole cases with their policies and assignees was a third of the page's CPU. A column left out here is
    # one query per row (the page's query-count tests catch that).
    return (
        cases.select_related("policy", "assignee")
        .only(*ROW_FIELDS)
        .annotate(
            subject_kind=F("subject__kind"),
            subject_external_id=F("subject__external_id"),
            subject_author_id=F("subject__author_id"),
            snippet=Substr("subject__text", 1, 180),
        )
    )


def tags_by_subject(subject_ids: list[int]) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {}
    for subject_id, slug in (
        SubjectTag.objects.filter(subject_id__in=subject_ids)
        .values_list("subject_id", "tag__slug")
        .order_by("tag__slug")
    ):
        tags.setdefault(subject_id, []).append(slug)
    return tags


def queue_page(
    filtered: QuerySet[Case],
    *,
    sort: str,
    keys: tuple[SortKey, ...],
    after: str = "",
    before: str = "",
    size: int,
    count_cap: int,
) -> KeysetPage:
    """One page of `filtered` (already filtered, any ordering is replaced) after the cursor `after`, or
    before `before`, in the order of `sort`; the first page without either. Three queries: the capped
    count, the page's rows, the tags of its subjects. Raises Invalid (field `after`/`before`) for a cursor
    that is not one this page made."""
    # Counted on the bare filter (no join to subjects) and capped: an exact count of a 50,000-case queue
    # costs more than the page itself; past the cap the page says "more than" and filters narrow it.
    count = filtered.order_by()[: count_cap + 1].count()
    rows = case_list_rows(filtered)
    if before:
        values, pk = decode_cursor(before, sort=sort, keys=keys, field_name=PREVIOUS)
        found, more = page_after(rows, keys, values=values, pk=pk, size=size, forward=False)
        has_previous, has_next = more, True
    else:
        values, pk = decode_cursor(after, sort=sort, keys=keys, field_name=NEXT) if after else (None, None)
        found, more = page_after(rows, keys, values=values, pk=pk, size=size, forward=True)
        has_previous, has_next = pk is not None, more
    if not found:
        has_next = False
    tags = tags_by_subject([case.subject_id for case in found])
    for case in found:
        case.tag_slugs = tags.get(case.subject_id, [])
    return KeysetPage(
        object_list=found,
        count=count,
        next_cursor=encode_cursor(sort, keys, found[-1]) if found and has_next else None,
        previous_cursor=encode_cursor(sort, keys, found[0]) if found and has_previous else None,
    )
