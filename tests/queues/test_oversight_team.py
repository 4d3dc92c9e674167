"""Leads' Team page: decisions, handle time, skips and releases, second-review disagreement, appeal and
overturn rates per agent and per policy, the review sample; scoped to the lead's queues."""

from datetime import timedelta

import pytest
from django.urls import reverse

from cases.models import Appeal, Case, Decision
from queues.models import QueueClearance, RuleMatch
from queues.services import claim_case, release_case, skip_case
from queues.services.health_snapshots import record_queue_health
from tests import factories
from tests.queues.test_oversight_health import DAY, T0, binned, column, decide, make_lead, open_case


def past_decision(case, agent, action, *, at, review_state="final", appeal=None):
    decision = factories.DecisionFactory(
        case=case, decided_by=agent, action=action, review_state=review_state
    )
    Decision.objects.filter(pk=decision.pk).update(created_at=at)
    if appeal:
        appeal_case = factories.CaseFactory(kind=Case.Kind.APPEAL, policy=case.policy)
        Appeal.objects.create(
            vendor=factories.VendorFactory(),
            external_id=f"ap-{decision.pk}",
            decision=decision,
            appeal_case=appeal_case,
            statement="not me",
            payload_hash="x",
            state=appeal,
        )
    return decision


@pytest.fixture
def team_day(review_setup, bob, clock):
    queue, alice, remove = review_setup.queue, review_setup.agent, review_setup.actions["remove"]
    spam, harassment = review_setup.policies["spam"], review_setup.policies["harassment"]
    # alice decides two cases after 10 and 30 minutes of handling; bob one after 5
    for n, handle in enumerate((10, 30)):
        case = open_case(queue, spam, at=T0 + timedelta(minutes=n))
        start = T0 + timedelta(minutes=40 * n + 1)
        decide(clock, case, alice, remove, claim_at=start, decide_at=start + timedelta(minutes=handle))
    case = open_case(queue, spam, at=T0)
    decide(clock, case, bob, remove, claim_at=T0 + timedelta(minutes=2), decide_at=T0 + timedelta(minutes=7))
    # bob skips one case and releases another
    clock.set(T0 + timedelta(hours=2))
    skipped, released = open_case(queue, spam, at=T0), open_case(queue, spam, at=T0)
    claim_case(case_id=skipped.pk, user=bob)
    skip_case(case_id=skipped.pk, user=bob)
    claim_case(case_id=released.pk, user=bob)
    release_case(case_id=released.pk, user=bob)
    # reviewed and appealed decisions (harassment): alice 1 of 2 second reviews overturned; 2 appeals, 1 lost
    at = T0 + timedelta(hours=3)
    for state, appeal in (
        ("confirmed", "upheld"),
        ("overturned", None),
        ("final", "overturned"),
        ("final", None),
    ):
        past_decision(
            open_case(queue, harassment, at=T0), alice, remove, at=at, review_state=state, appeal=appeal
        )
    record_queue_health(now=T0 + timedelta(hours=4))
    clock.set(T0 + timedelta(hours=5))
    return review_setup


def test_team_charts_show_each_agents_known_figures(client, team_day):
    client.force_login(make_lead())
    response = client.get(reverse("queues:oversight-team"), DAY)
    assert response.status_code == 200
    # the four reviewed and appealed decisions count as alice's too
    assert column(response, "decisions", "Decisions") == {"alice": 6, "bob": 1}
    # handle time is read from histogram bins: within their error of the exact 20 / 28 and 5 minutes
    median, p90 = column(response, "handle-time", "Median"), column(response, "handle-time", "p90")
    assert [median["alice"], median["bob"]] == binned(20, 5)
    assert [p90["alice"], p90["bob"]] == binned(28, 5)
    assert column(response, "skips", "Skips") == {"alice": 0, "bob": 1}
    assert column(response, "skips", "Releases") == {"alice": 0, "bob": 1}
    # alice: 6 decisions, 2 second-reviewed (1 overturned), 2 appealed (1 of 2 judged overturned)
    assert column(response, "agent-review", "Second-review disagreement")["alice"] == 50
    assert column(response, "agent-review", "Appeal rate")["alice"] == 33.3
    assert column(response, "agent-review", "Overturn rate")["alice"] == 50
    assert column(response, "agent-review", "Appeal rate")["bob"] == 0
    assert column(response, "policy-review", "Appeal rate") == {"Harassment": 50, "Spam": 0}
    assert column(response, "policy-review", "Overturn rate") == {"Harassment": 50, "Spam": None}
    assert b"alice" in response.content


def test_team_csv_has_the_chart_figures(client, team_day):
    client.force_login(make_lead())
    response = client.get(reverse("queues:oversight-team"), {**DAY, "csv": "decisions"})
    assert response.content.decode().splitlines() == ["Agent,Decisions (decisions)", "alice,6", "bob,1"]


def test_review_sample_counts_sampled_cases_and_agreement_with_the_rule(client, review_setup, clock):
    alice, remove, warn = review_setup.agent, review_setup.actions["remove"], review_setup.actions["warn"]
    rule = factories.RoutingRuleFactory()
    for action in (remove, warn):
        case = open_case(review_setup.queue, review_setup.policies["spam"], at=T0)
        RuleMatch.objects.create(
            rule=rule, case=case, rule_version=1, mode="live", outcome="sampled", action=remove, matched_at=T0
        )
        past_decision(case, alice, action, at=T0 + timedelta(hours=1))
    client.force_login(make_lead())
    response = client.get(reverse("queues:oversight-team"), DAY)
    assert column(response, "review-sample", "Sampled cases decided") == {"alice": 2}
    assert column(response, "review-sample", "Agreed with the rule") == {"alice": 1}


def test_an_uncleared_lead_sees_nothing_of_restricted_queues_decisions(client, review_setup, clock):
    restricted = factories.QueueFactory(slug="cs", name="Child safety", is_restricted=True)
    policy, alice = review_setup.policies["child-safety"], review_setup.agent
    past_decision(
        open_case(restricted, policy, at=T0, restricted=True),
        alice,
        review_setup.actions["remove"],
        at=T0 + timedelta(hours=1),
        appeal="overturned",
    )
    record_queue_health(now=T0 + timedelta(hours=2))  # the page reads the beat task's roll-up
    lead = make_lead("uncleared", restricted)
    client.force_login(lead)
    response = client.get(reverse("queues:oversight-team"), {**DAY, "queue": restricted.pk})
    assert all(chart.is_empty for chart in response.context["charts"])
    assert b"alice" not in response.content
    QueueClearance.objects.create(user=lead, queue=restricted, reason="trained")
    client.force_login(lead)
    response = client.get(reverse("queues:oversight-team"), DAY)
    assert column(response, "agent-review", "Overturn rate") == {"alice": 100}


@pytest.mark.parametrize("agents", [1, 8])
def test_the_team_page_runs_a_bounded_number_of_queries(
    client, review_setup, clock, django_assert_max_num_queries, agents
):
    for n in range(agents):
        agent = factories.UserFactory()
        case = open_case(review_setup.queue, review_setup.policies["spam"], at=T0)
        past_decision(
            case, agent, review_setup.actions["remove"], at=T0 + timedelta(hours=1), appeal="upheld"
        )
    client.force_login(make_lead())
    # session, user, permissions and visible queues, then nine for the charts
    with django_assert_max_num_queries(17):
        assert client.get(reverse("queues:oversight-team"), DAY).status_code == 200
