"""The case page, global search, the timelines and the leads' case dashboards are served by indexes
(PostgreSQL EXPLAIN; see tests/query_plans.py), so they stay bounded at 10M reports (bench/generate_scale.py)."""

import pytest
from django.contrib.auth.models import Permission

from tests import factories
from tests.query_plans import (
    assert_no_big_seq_scan,
    explain,
    explain_queryset,
    indexes_used,
    postgres_only,
    seq_scanned,
    sorted_nodes,
    statements,
)

pytestmark = [pytest.mark.django_db, postgres_only]


@pytest.fixture
def case(review_setup):
    """An open case in `general` with reports, signals and a decided earlier case on the same author."""
    subject = factories.SubjectFactory(author_id="author-1", text="you are worthless, go away")
    case = factories.OpenCaseFactory(queue=review_setup.queue, subject=subject)
    for _ in range(3):
        factories.ReportFactory(case=case, subject=subject)
        factories.SignalFactory(case=case)
    earlier = factories.SubjectFactory(author_id="author-1")
    factories.OpenCaseFactory(queue=review_setup.queue, subject=earlier)
    return case


def test_every_statement_of_the_case_page_is_served_by_an_index(agent_client, case):
    with statements() as sqls:
        assert agent_client.get(f"/cases/{case.pk}/").status_code == 200

    assert_no_big_seq_scan(sqls)


def test_the_case_page_reads_the_newest_reports_of_the_case_in_index_order(agent_client, case):
    with statements() as sqls:
        agent_client.get(f"/cases/{case.pk}/")

    newest = next(sql for sql in sqls if 'FROM "cases_report"' in sql and "ORDER BY" in sql and "DESC" in sql)
    plan = explain(newest, no_sort=True)
    assert "report_case_time_idx" in indexes_used(plan)
    assert not sorted_nodes(plan)


@pytest.mark.parametrize(
    "query",
    [
        "{case}",  # a case id
        "m-1",  # a subject external id (no match)
        "https://platform.example/m/1",  # an address
        "author-1",  # an author id
        "r-1-1",  # a report external id
        "ap-1",  # an appeal external id
        "worthless",  # text: the trigram index
    ],
)
def test_global_search_finds_through_indexes_whatever_is_asked(agent_client, case, query):
    with statements() as sqls:
        response = agent_client.get("/cases/search", {"q": query.format(case=case.pk)})

    assert response.status_code == 200
    assert_no_big_seq_scan(sqls)


def test_the_text_predicate_of_search_is_served_by_the_trigram_index(case):
    """On a few rows the planner reaches subjects through the case (both are cheap); what must hold at any size
    is that the text match itself can be answered by the index, not by reading every text."""
    from cases.models import Subject

    plan = explain_queryset(Subject.objects.filter(text__icontains="worthless").only("pk"))
    assert "subject_text_trgm_idx" in indexes_used(plan)
    assert not seq_scanned(plan)


def test_subject_and_author_timelines_are_served_by_indexes(agent_client, case):
    with statements() as sqls:
        assert agent_client.get(f"/cases/subjects/{case.subject_id}/").status_code == 200
        assert agent_client.get("/cases/authors/", {"id": "author-1"}).status_code == 200

    assert_no_big_seq_scan(sqls)


@pytest.fixture
def lead_client(client, review_setup, case):
    lead = factories.UserFactory(username="lena")
    for codename, app in (("view_case", "cases"), ("view_all_queues", "queues")):
        lead.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label=app))
    review_setup.queue.members.add(lead)
    client.force_login(lead)
    return client


@pytest.mark.parametrize("page", ["/cases/oversight/outcomes", "/cases/oversight/sources"])
@pytest.mark.parametrize("period", ["today", "7d", "30d"])
def test_outcomes_and_sources_read_roll_ups_and_deliveries_by_index(lead_client, page, period):
    from datetime import timedelta

    from django.utils import timezone

    from cases.services.oversight_rollup import refresh_oversight_hours

    now = timezone.now()
    refresh_oversight_hours(since=now - timedelta(days=1), until=now)
    with statements() as sqls:
        assert lead_client.get(page, {"period": period}).status_code == 200

    assert_no_big_seq_scan(sqls)
