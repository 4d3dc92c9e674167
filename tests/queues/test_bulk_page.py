"""The queue page's bulk decision: the form above the table, select all on the page or all matching the
filter (count shown first, capped), actions offered per policy, the selection kept on error, a summary."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from cases.models import Case, Decision
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(review_setup):
    user = factories.UserFactory(username="lena")
    user.user_permissions.add(Permission.objects.get(codename="bulk_decide"))
    review_setup.queue.members.add(user)
    return user


@pytest.fixture
def lead_client(lead):
    browser = Client()
    browser.force_login(lead)
    return browser


@pytest.fixture
def spam_cases(review_setup):
    return [
        factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
        for _ in range(3)
    ]


def test_the_form_sits_above_the_table_with_select_all_and_the_matching_count(
    lead_client, spam_cases, django_assert_max_num_queries
):
    with django_assert_max_num_queries(25):
        page = lead_client.get("/queues/general/").content.decode()
    assert page.index('id="bulk-form"') < page.index("<table")
    assert 'data-select-all="bulk-form"' in page
    assert "All 3 cases matching the filter" in page


def test_actions_carry_the_policies_that_allow_them(lead_client, spam_cases, review_setup):
    review_setup.policies["spam"].allowed_actions.remove(review_setup.actions["warn"])
    from cases.selectors import forget_review_config

    forget_review_config()
    page = lead_client.get("/queues/general/").content.decode()
    actions = page[page.index('id="bulk-action"') :]
    warn = actions[actions.index(f'value="{review_setup.actions["warn"].pk}"') :].split(">", 1)[0]
    allowed_under = warn.split('data-policies="')[1].split('"')[0].split()
    assert str(review_setup.policies["harassment"].pk) in allowed_under
    assert str(review_setup.policies["spam"].pk) not in allowed_under


def test_all_matching_the_filter_is_capped_and_summarised(lead_client, spam_cases, review_setup, settings):
    settings.BULK_DECIDE_MAX_CASES = 2
    response = lead_client.post(
        "/queues/general/bulk-decide",
        {
            "scope": "filter",
            "filter": "status=waiting&sort=priority",
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["remove"].pk,
        },
        follow=True,
    )
    page = response.content.decode()
    assert Case.objects.filter(status=Case.Status.RESOLVED).count() == 2
    assert 'id="bulk-result"' in page and "2 decided, 0 skipped" in page
    # Shown once: the next visit has no summary.
    assert 'id="bulk-result"' not in lead_client.get("/queues/general/").content.decode()


def test_a_refused_batch_keeps_the_selection_and_choices(lead_client, spam_cases, review_setup):
    review_setup.policies["spam"].allowed_actions.remove(review_setup.actions["warn"])
    chosen = spam_cases[1]
    response = lead_client.post(
        "/queues/general/bulk-decide",
        {
            "cases": [chosen.pk],
            "filter": "status=waiting",
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["warn"].pk,
            "reason": "spam wave",
        },
    )
    page = response.content.decode()
    assert response.status_code == 422
    assert 'id="bulk-error"' in page
    assert f'value="{chosen.pk}" form="bulk-form" aria-label="Select case {chosen.pk}" checked' in page
    assert f'value="{spam_cases[0].pk}" form="bulk-form" aria-label="Select case {spam_cases[0].pk}">' in page
    assert 'value="spam wave"' in page
    assert not Decision.objects.exists()


def test_more_selected_than_the_cap_decides_nothing(lead_client, spam_cases, review_setup, settings):
    settings.BULK_DECIDE_MAX_CASES = 2
    response = lead_client.post(
        "/queues/general/bulk-decide",
        {
            "cases": [case.pk for case in spam_cases],
            "policy": review_setup.policies["spam"].pk,
            "action": review_setup.actions["remove"].pk,
        },
    )
    assert response.status_code == 422 and "at most 2" in response.content.decode()
    assert not Decision.objects.exists()
