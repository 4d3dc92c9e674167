"""The queue page's filter fields are rendered once and reused (queues/filter_markup.py): the page a
warm cache serves is the page a cold one renders, in every language, and never stale or leaky."""

import re

import pytest
from django.utils import translation

from cases.models import Case
from tests import factories

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'(value="|"X-CSRFToken": ")[A-Za-z0-9]{32,64}"')
CASE_LINK = re.compile(r'<a href="/cases/(\d+)/">#\d+</a>')


def _page(client, **headers) -> str:
    response = client.get("/queues/general/", headers=headers)
    assert response.status_code == 200, response.content[:500]
    return CSRF.sub(r'\1CSRF"', response.content.decode())


@pytest.fixture
def general(review_setup):
    return review_setup.queue


def test_a_warm_filter_cache_serves_the_same_page_in_german(agent_client, general):
    factories.OpenCaseFactory(queue=general)
    cold = _page(agent_client, accept_language="de")
    warm = _page(agent_client, accept_language="de")
    english = _page(agent_client, accept_language="en")

    assert warm == cold
    with translation.override("de"):
        sort_by, any_policy = translation.gettext("Sort by"), translation.gettext("Any policy")
    assert sort_by != "Sort by"  # the catalogue has it, so the test tells the languages apart
    assert f">{sort_by}</label>" in warm and any_policy in warm
    assert ">Sort by</label>" in english and f">{sort_by}</label>" not in english


def test_a_restricted_case_stays_hidden_from_an_uncleared_agent_with_a_warm_cache(agent_client, general):
    shown = factories.OpenCaseFactory(queue=general)
    hidden = factories.OpenCaseFactory(queue=general)
    Case.objects.filter(pk=hidden.pk).update(is_restricted=True)
    _page(agent_client)
    listed = [int(pk) for pk in CASE_LINK.findall(_page(agent_client))]

    assert shown.pk in listed and hidden.pk not in listed


def test_a_new_policy_is_offered_at_once(agent_client, general):
    factories.OpenCaseFactory(queue=general)
    _page(agent_client)
    policy = factories.PolicyFactory()

    assert f'<option value="{policy.pk}">' in _page(agent_client)


def test_the_selected_filter_is_kept_per_query(agent_client, general):
    factories.OpenCaseFactory(queue=general)
    plain = agent_client.get("/queues/general/").content.decode()
    by_sla = agent_client.get("/queues/general/", {"sort": "sla"}).content.decode()

    assert '<option value="priority" selected>' in plain
    assert '<option value="sla" selected>' in by_sla and '<option value="priority" selected>' not in by_sla


def test_a_renamed_vendor_and_a_deleted_policy_are_shown_as_they_are_now(agent_client, general):
    vendor = factories.VendorFactory(name="Old name")
    gone = factories.PolicyFactory(name="Retired policy")
    assert "Old name" in _page(agent_client) and "Retired policy" in _page(agent_client)  # cached now

    vendor.name = "New name"
    vendor.save()
    gone.delete()
    page = _page(agent_client)

    assert "New name" in page and "Old name" not in page
    assert "Retired policy" not in page


def test_the_filter_options_are_read_once_not_on_every_page(agent_client, general):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _page(agent_client)
    with CaptureQueriesContext(connection) as queries:
        _page(agent_client)

    reads = [query["sql"] for query in queries.captured_queries]
    assert not [
        sql for sql in reads if 'FROM "moderation_vendor"' in sql or 'FROM "moderation_policy"' in sql
    ]
