"""The leads' audit log pages by index whatever the filter (PostgreSQL EXPLAIN; see tests/query_plans.py): a
year of audit rows (bench/generate_scale.py: 10M) is never read whole nor sorted per page."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from tests import factories
from tests.query_plans import assert_no_big_seq_scan, explain, postgres_only, sorted_nodes, statements

pytestmark = [pytest.mark.django_db, postgres_only]


@pytest.fixture
def lead_client():
    lead = factories.UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    queue = factories.QueueFactory(slug="team-queue")
    queue.members.add(lead)
    client = Client()
    client.force_login(lead)
    client.case = factories.OpenCaseFactory(queue=queue)
    return client


def _page(sqls: list[str]) -> str:
    return next(sql for sql in sqls if 'FROM "moderation_auditevent"' in sql and "ORDER BY" in sql)


def test_the_newest_page_of_the_log_is_read_in_index_order(lead_client):
    with statements() as sqls:
        assert lead_client.get("/audit/").status_code == 200

    assert_no_big_seq_scan(sqls)
    assert not sorted_nodes(explain(_page(sqls), no_sort=True))


@pytest.mark.parametrize(
    "filters",
    [
        {"actor": "lena"},
        {"actor_type": "user"},
        {"verb": "case."},
        {"target_type": "cases.case", "target_id": "1"},
        {"case": "1"},
        {"since": "2026-01-01T00:00:00Z"},
        {"until": "2026-01-01T00:00:00Z"},
        {"before": "1000"},
    ],
    ids=lambda filters: "+".join(filters),
)
def test_every_filter_of_the_log_is_served_by_an_index(lead_client, filters):
    with statements() as sqls:
        assert lead_client.get("/audit/", filters).status_code == 200

    assert_no_big_seq_scan(sqls)
