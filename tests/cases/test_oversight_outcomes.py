"""The Outcomes dashboard: decisions by policy, action and source, automated share, and how automated rules
and models agree with people and hold up on appeal, each figure after known events."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests import factories
from tests.cases.oversight_world import build, by_label, csv_rows

URL = "/cases/oversight/outcomes"


@pytest.fixture
def world(review_setup):
    return build(review_setup)


@pytest.fixture
def lead_client(world):
    client = Client()
    client.force_login(world.lead)
    return client


@pytest.fixture
def admin_client_(world):
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "x"))
    return client


def totals(rows):
    """Column sums of a by-period CSV (header row first, label column first)."""
    header = rows[0]
    return {name: sum(float(row[i] or 0) for row in rows[1:]) for i, name in enumerate(header) if i}


def test_decisions_by_source_count_people_automation_and_shadow_the_lead_may_see(lead_client):
    rows = csv_rows(lead_client.get(URL, {"csv": "decisions-by-source"}))
    assert rows[0] == [
        "Period",
        "Agents (decisions)",
        "Automated (live) (decisions)",
        "Shadow (not enforced) (decisions)",
    ]
    assert len(rows) == 1 + 7  # one row per day of the 7-day period
    assert totals(rows) == {
        "Agents (decisions)": 3,
        "Automated (live) (decisions)": 2,
        "Shadow (not enforced) (decisions)": 3,
    }


def test_a_superuser_also_counts_the_restricted_queue(admin_client_):
    rows = csv_rows(admin_client_.get(URL, {"csv": "decisions-by-source"}))
    assert totals(rows)["Agents (decisions)"] == 4
    assert totals(rows)["Shadow (not enforced) (decisions)"] == 4


def test_automated_share_is_automated_over_all_live_decisions_per_day(lead_client, world):
    rows = csv_rows(lead_client.get(URL, {"csv": "automated-share"}))
    values = [row[1] for row in rows[1:]]
    assert values.count("40") == 1  # 2 automated of 5 live decisions, on the day they were made
    assert set(values) - {"40"} == {""}  # days without live decisions have no share, not 0


def test_decisions_by_policy_and_action_split_by_source(lead_client):
    table = by_label(csv_rows(lead_client.get(URL, {"csv": "decisions-by-policy-action"})))
    assert table == {
        "Harassment · Remove": ["1", "2", "3"],
        "Harassment · No violation": ["2", "0", "0"],
    }


def test_rule_figures_give_volume_agreement_and_precision_from_appeals(lead_client):
    table = by_label(csv_rows(lead_client.get(URL, {"csv": "rule-figures"})))
    # Decisions, enforced, shadow, reviewed, agreed, agreement %, upheld, overturned, precision %
    assert table["Obvious spam [live]"] == ["2", "2", "0", "0", "0", "", "1", "1", "50"]
    assert table["Candidate insults [shadow]"] == ["3", "0", "3", "2", "1", "50", "0", "0", ""]


def test_model_figures_compare_scores_at_the_threshold_with_people(lead_client):
    table = by_label(csv_rows(lead_client.get(URL, {"csv": "model-figures"})))
    # Scores, at or above threshold, shadow, reviewed, agreed, agreement %, upheld, overturned, precision %
    assert table == {"tox-1 (Harassment) [shadow]": ["4", "3", "4", "3", "2", "66.7", "1", "0", "100"]}


def test_the_page_draws_charts_with_the_period_and_filters(lead_client, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(22):
        response = lead_client.get(URL)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('<svg class="chart') >= 3
    assert "csv=decisions-by-source" in body
    assert f'<option value="{world.queue.pk}">General</option>' in body  # her queue is offered as a filter
    assert "Child safety" not in body  # a restricted queue she is not cleared for is not


def test_query_count_does_not_grow_with_rules_and_models(
    lead_client, world, review_setup, django_assert_max_num_queries
):
    from cases.models import Decision

    for n in range(5):
        rule = factories.RoutingRuleFactory(name=f"extra {n}")
        factories.DecisionFactory(
            case=factories.CaseFactory(queue=world.queue),
            mode=Decision.Mode.SHADOW,
            rule=rule,
            action=review_setup.actions["remove"],
        )
    with django_assert_max_num_queries(22):
        assert lead_client.get(URL).status_code == 200


def test_a_queue_filter_narrows_the_figures(lead_client, world):
    quiet = factories.QueueFactory(slug="quiet", name="Quiet")
    quiet.members.add(world.lead)
    rows = csv_rows(lead_client.get(URL, {"csv": "decisions-by-source", "queue": quiet.pk}))
    assert set(totals(rows).values()) == {0}
    rows = csv_rows(lead_client.get(URL, {"csv": "decisions-by-source", "queue": [quiet.pk, world.queue.pk]}))
    assert totals(rows)["Agents (decisions)"] == 3


def test_a_restricted_queue_the_lead_is_not_cleared_for_cannot_be_chosen(lead_client, world):
    assert lead_client.get(URL, {"queue": world.restricted_queue.pk}).status_code == 422


def test_a_queue_the_lead_may_not_see_is_refused_with_422(lead_client):
    other = factories.QueueFactory(slug="elsewhere")
    response = lead_client.get(URL, {"queue": other.pk})
    assert response.status_code == 422
    assert "queue must be one of the queues you may see" in response.content.decode()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"period": "year"}, "period"),
        ({"period": "custom", "from": "x", "to": "2026-01-01"}, "from"),
        ({"period": "custom", "from": "2026-02-01", "to": "2026-01-01"}, "to"),
    ],
)
def test_a_bad_period_is_answered_422_with_the_error_on_the_page(lead_client, params, field):
    response = lead_client.get(URL, params)
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode()


def test_an_unknown_csv_is_404(lead_client):
    assert lead_client.get(URL, {"csv": "nope"}).status_code == 404


def test_agents_get_403_and_anonymous_users_log_in(agent_client):
    assert agent_client.get(URL).status_code == 403
    assert Client().get(URL).status_code == 302


def test_a_custom_period_buckets_by_day(lead_client, world):
    day = world.when.date()
    rows = csv_rows(
        lead_client.get(
            URL,
            {
                "csv": "decisions-by-source",
                "period": "custom",
                "from": day.isoformat(),
                "to": day.isoformat(),
            },
        )
    )
    # One day: hourly buckets, and every decision lands in the hour it was made.
    assert len(rows) == 1 + 24
    assert totals(rows)["Agents (decisions)"] == 3
