"""The queue page pages by keyset: "the cases after this one" in the page's order, never OFFSET. Pages
do not shift when cases arrive, deep pages cost what the first one costs, and a cursor is only ever one
the page made."""

import base64
import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import urljoin

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case
from queues import page_selectors
from queues.filters import KEYSETS, CaseQueueFilter
from tests import factories

pytestmark = pytest.mark.django_db

CASE_LINK = re.compile(r'<a href="/cases/(\d+)/">#\d+</a>')
postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="EXPLAIN and enable_seqscan are PostgreSQL's"
)


def listed(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in CASE_LINK.findall(response.content.decode())]


def pager_link(response, label: str) -> str | None:
    """The link's URL as a browser reads the attribute (entities decoded), or None without one."""
    found = re.search(rf'<a href="([^"]*)"[^>]*>{label}</a>', response.content.decode())
    return urljoin("/queues/general/", unescape(found.group(1))) if found else None


@pytest.fixture
def general(review_setup):
    return review_setup.queue


@pytest.fixture
def five_cases(general, settings):
    settings.QUEUE_PAGE_SIZE = 2
    return [factories.OpenCaseFactory(queue=general, priority=50 - n) for n in range(5)]


def test_the_first_page_shows_the_top_cases_the_count_and_a_next_link_only(agent_client, five_cases):
    first = agent_client.get("/queues/general/")

    assert listed(first) == [five_cases[0].pk, five_cases[1].pk]
    assert "5 cases" in first.content.decode()
    assert pager_link(first, "Next →") is not None
    assert pager_link(first, "← Previous") is None


def test_next_links_walk_every_case_once_and_the_last_page_has_no_next(agent_client, five_cases):
    first = agent_client.get("/queues/general/")
    second = agent_client.get(pager_link(first, "Next →"))
    third = agent_client.get(pager_link(second, "Next →"))

    assert listed(second) == [five_cases[2].pk, five_cases[3].pk]
    assert listed(third) == [five_cases[4].pk]
    assert pager_link(third, "Next →") is None


def test_previous_goes_back_to_the_page_before(agent_client, five_cases):
    second = agent_client.get(pager_link(agent_client.get("/queues/general/"), "Next →"))
    third = agent_client.get(pager_link(second, "Next →"))

    back = agent_client.get(pager_link(third, "← Previous"))
    first = agent_client.get(pager_link(back, "← Previous"))

    assert listed(back) == [five_cases[2].pk, five_cases[3].pk]
    assert listed(first) == [five_cases[0].pk, five_cases[1].pk]
    assert pager_link(first, "← Previous") is None  # back on the first page


def test_a_case_arriving_meanwhile_never_shifts_the_next_page(agent_client, five_cases, general):
    first = agent_client.get("/queues/general/")
    factories.OpenCaseFactory(queue=general, priority=99)  # would push every OFFSET page down by one

    second = agent_client.get(pager_link(first, "Next →"))

    assert listed(second) == [five_cases[2].pk, five_cases[3].pk]


def test_pager_links_keep_the_filter_and_sort(agent_client, five_cases):
    first = agent_client.get("/queues/general/", {"sort": "oldest", "status": "active"})
    second = agent_client.get(pager_link(first, "Next →"))

    assert listed(second) == [five_cases[2].pk, five_cases[3].pk]  # created in priority order
    assert '<option value="oldest" selected>' in second.content.decode()
    assert '<option value="active" selected>' in second.content.decode()


def test_equal_sort_keys_are_ordered_by_id_so_no_case_is_skipped_or_repeated(agent_client, general, settings):
    settings.QUEUE_PAGE_SIZE = 2
    opened = timezone.now() - timedelta(hours=1)
    same = [factories.OpenCaseFactory(queue=general, priority=10) for _ in range(5)]
    Case.objects.filter(pk__in=[case.pk for case in same]).update(opened_at=opened)

    seen, response = [], agent_client.get("/queues/general/")
    while True:
        seen += listed(response)
        link = pager_link(response, "Next →")
        if link is None:
            break
        response = agent_client.get(link)

    assert seen == sorted(case.pk for case in same)


def test_cases_without_an_sla_come_last_and_are_paged_too(agent_client, general, settings):
    settings.QUEUE_PAGE_SIZE = 2
    now = timezone.now()
    due = [factories.OpenCaseFactory(queue=general, sla_due_at=now + timedelta(hours=n)) for n in (1, 2, 3)]
    undue = [factories.OpenCaseFactory(queue=general, sla_due_at=None) for _ in range(2)]

    seen, response = [], agent_client.get("/queues/general/", {"sort": "sla"})
    while (link := pager_link(response, "Next →")) is not None:
        seen += listed(response)
        response = agent_client.get(link)
    seen += listed(response)

    assert seen == [case.pk for case in due] + sorted(case.pk for case in undue)


@pytest.mark.parametrize(
    "cursor", ["garbage", "eyJ4IjoxfQ", "WyJvbGRlc3QiLCIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwxXQ"]
)
def test_a_cursor_the_page_did_not_make_is_refused_naming_the_field(agent_client, five_cases, cursor):
    # The last one is a well-formed cursor of the "oldest" sort, used on the default (priority) sort.
    response = agent_client.get("/queues/general/", {"after": cursor})

    assert response.status_code == 422
    assert 'data-field="after"' in response.content.decode()
    assert CASE_LINK.findall(response.content.decode()) == []


def _cursor(*values, raw: str | None = None) -> str:
    text = raw if raw is not None else json.dumps(list(values))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


MOMENT = "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    "sort,cursor",
    [
        ("priority", _cursor("priority", MOMENT, MOMENT, 1)),  # a date-time where the priority was
        ("oldest", _cursor("oldest", 5, 1)),  # a number where a date-time was
        ("oldest", _cursor("oldest", "2026-02-30T10:00:00+00:00", 1)),  # no such day
        ("oldest", _cursor("oldest", "2026-01-01T00:00:00+99:00", 1)),  # an offset past a day
        ("oldest", _cursor("oldest", "2026-01-01T00:00:00", 1)),  # no offset: which moment?
        ("priority", _cursor(raw=f'["priority",NaN,"{MOMENT}",1]')),
        ("priority", _cursor(raw=f'["priority",Infinity,"{MOMENT}",1]')),
        ("reports", _cursor("reports", 10**40, MOMENT, 1)),  # past 64 bits
    ],
)
def test_a_hand_edited_cursor_of_the_right_shape_is_refused_not_a_server_error(
    agent_client, five_cases, sort, cursor
):
    response = agent_client.get("/queues/general/", {"sort": sort, "after": cursor})

    assert response.status_code == 422
    assert 'data-field="after"' in response.content.decode()


def test_an_old_page_number_link_shows_the_first_page(agent_client, five_cases):
    assert listed(agent_client.get("/queues/general/", {"page": 3})) == [five_cases[0].pk, five_cases[1].pk]


def _queries(agent_client, url) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = agent_client.get(url)
    assert len(listed(response)) > 0
    return len(captured), [query["sql"] for query in captured]


def test_a_deep_page_costs_the_same_queries_as_the_first_and_none_uses_offset(
    agent_client, general, settings
):
    settings.QUEUE_PAGE_SIZE = 3
    for n in range(30):
        factories.OpenCaseFactory(queue=general, priority=n)
    agent_client.get("/queues/general/")  # warm caches
    first_count, _ = _queries(agent_client, "/queues/general/")
    response = agent_client.get("/queues/general/")
    for _ in range(6):
        response = agent_client.get(pager_link(response, "Next →"))
    deep_count, deep_sql = _queries(agent_client, pager_link(response, "Next →"))

    assert deep_count == first_count
    assert not any(" OFFSET " in sql.upper() for sql in deep_sql)


@postgresql_only
@pytest.mark.parametrize("sort", sorted(KEYSETS))
def test_a_deep_page_walks_an_index_without_offset(general, sort):
    for n in range(40):
        factories.OpenCaseFactory(queue=general, priority=n % 7, sla_due_at=None if n % 5 else timezone.now())
    filterset = CaseQueueFilter(
        {"sort": sort, "status": "active"}, queryset=page_selectors.queue_cases(general)
    )
    assert filterset.is_valid()
    first = page_selectors.queue_page(filterset.qs, sort=sort, keys=KEYSETS[sort], size=10, count_cap=10_000)
    with CaptureQueriesContext(connection) as captured:
        page_selectors.queue_page(
            filterset.qs, sort=sort, keys=KEYSETS[sort], after=first.next_cursor, size=10, count_cap=10_000
        )
    rows_sql = next(query["sql"] for query in captured if "LIMIT 11" in query["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + rows_sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "OFFSET" not in rows_sql.upper()
    assert "Index" in plan, plan


def test_a_cursor_opens_no_page_of_a_queue_the_agent_cannot_see(agent_client, five_cases):
    hidden = factories.QueueFactory(slug="child-safety", is_restricted=True)
    secret = factories.OpenCaseFactory(queue=hidden, is_restricted=True)
    cursor = _cursor("priority", 1e9, MOMENT, 1)

    for path in (f"/queues/{hidden.slug}/", "/queues/general/"):
        response = agent_client.get(path, {"after": cursor})
        assert f"/cases/{secret.pk}/" not in response.content.decode()
    assert agent_client.get(f"/queues/{hidden.slug}/", {"after": cursor}).status_code == 404
