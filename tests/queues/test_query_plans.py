"""The agent's hot path and the leads' queue dashboards are served by indexes (PostgreSQL EXPLAIN; see
tests/query_plans.py): claim-next, the queue page in every ordering, Queue health and Team."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from queues.filters import SORTS
from queues.services import claim_next_case
from tests import factories
from tests.query_plans import (
    assert_no_big_seq_scan,
    explain,
    indexes_used,
    postgres_only,
    seq_scanned,
    sorted_nodes,
    statements,
)

pytestmark = [pytest.mark.django_db, postgres_only]


@pytest.fixture
def waiting(review_setup):
    """A few open cases in `general` (and one in another queue), with reports."""
    other = factories.QueueFactory(slug="other")
    cases = [factories.OpenCaseFactory(queue=review_setup.queue) for _ in range(5)]
    cases.append(factories.OpenCaseFactory(queue=other))
    for case in cases:
        factories.ReportFactory(case=case, subject=case.subject)
    return cases


def _claim_statement(sqls: list[str]) -> str:
    # The release of run-out leases also locks with SKIP LOCKED; the claim is the one ordered by priority.
    return next(sql for sql in sqls if "SKIP LOCKED" in sql.upper() and "PRIORITY DESC" in sql.upper())


def test_claim_next_takes_its_case_from_the_claim_index_in_order(review_setup, waiting):
    with statements() as sqls:
        claimed = claim_next_case(user=review_setup.agent, queue=review_setup.queue)

    assert claimed is not None
    plan = explain(_claim_statement(sqls), no_sort=True)
    assert "case_claimable_idx" in indexes_used(plan)
    assert not seq_scanned(plan)
    # Highest priority first comes from the index order: the only sort is of held cases (the agent's own, at
    # most CASE_MAX_HELD, by the assignee index; or, as the planner's statistics may prefer, the held cases
    # by the lease index: both hold only claimed cases, bounded by agents x CASE_MAX_HELD), never of a
    # queue's waiting cases.
    for node in sorted_nodes(plan):
        used = indexes_used(node)
        assert used and used <= {"case_assignee_idx", "case_lease_idx"}, node


def test_every_statement_of_a_claim_is_served_by_an_index(review_setup, waiting):
    with statements() as sqls:
        claim_next_case(user=review_setup.agent, queue=review_setup.queue)

    assert_no_big_seq_scan(sqls)


def _queue_page_list(sqls: list[str]) -> str:
    """The statement that reads the page's rows (it annotates the subject snippet)."""
    return next(sql for sql in sqls if "SUBSTRING" in sql.upper() and "cases_case" in sql)


# Not resolved cases by priority is the one ordering left to a sort: an index for it ties with the claim index
# and claim-next then reads the bigger one (test above); bench/pages.py measures that list at 1M open cases.
SHAPES = [(status, sort) for status in ("waiting", "active") for sort in sorted(SORTS)]
SHAPES.remove(("active", "priority"))


@pytest.mark.parametrize(("status", "sort"), SHAPES)
def test_the_queue_page_reads_a_page_in_index_order_whatever_the_sort(agent_client, waiting, sort, status):
    with statements() as sqls:
        response = agent_client.get(f"/queues/general/?sort={sort}&status={status}")

    assert response.status_code == 200
    assert_no_big_seq_scan(sqls)
    plan = explain(_queue_page_list(sqls), no_sort=True)
    # An incremental sort only orders ties of an index's leading order (same SLA moment): that is fine.
    full_sorts = [node for node in sorted_nodes(plan) if node["Node Type"] == "Sort"]
    assert not full_sorts, f"sort {sort!r} has no index order"


def test_the_default_queue_page_reads_the_claim_index(agent_client, waiting):
    with statements() as sqls:
        assert agent_client.get("/queues/general/").status_code == 200

    plan = explain(_queue_page_list(sqls), no_sort=True)
    assert "case_claimable_idx" in indexes_used(plan)
    assert not sorted_nodes(plan)


def test_the_queue_list_dashboard_counts_through_indexes(agent_client, waiting):
    with statements() as sqls:
        assert agent_client.get("/queues/").status_code == 200

    assert_no_big_seq_scan(sqls)


@pytest.fixture
def lead_client(client, review_setup, waiting):
    lead = factories.UserFactory(username="lena")
    for codename, app in (("view_case", "cases"), ("view_all_queues", "queues")):
        lead.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app))
    review_setup.queue.members.add(lead)
    client.force_login(lead)
    return client


@pytest.mark.parametrize("page", ["/oversight/", "/oversight/team"])
@pytest.mark.parametrize("period", ["today", "7d", "30d"])
def test_queue_health_and_team_read_their_roll_ups_by_index(lead_client, page, period):
    from queues.services.health_snapshots import record_queue_health

    record_queue_health(now=timezone.now())  # snapshots and intake hours to read
    with statements() as sqls:
        assert lead_client.get(f"{page}?period={period}").status_code == 200

    assert_no_big_seq_scan(sqls)
