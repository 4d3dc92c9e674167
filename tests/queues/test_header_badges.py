"""Header badges: what waits for me, counted for what I may see only, in a bounded number of queries."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from cases.models import Appeal, Case, Decision, Enforcement
from queues.comfort_selectors import header_badges
from queues.models import QueueClearance
from tests import factories


def _lead(username="lena"):
    user = factories.UserFactory(username=username)
    user.user_permissions.add(
        Permission.objects.get(codename="view_case", content_type__app_label="cases"),
        Permission.objects.get(codename="view_all_queues", content_type__app_label="queues"),
    )
    return type(user).objects.get(pk=user.pk)  # fresh permission cache


def _case(queue, **fields):
    return factories.CaseFactory(queue=queue, **fields)


def _pending_decision(case, decider, action):
    return factories.DecisionFactory(
        case=case, decided_by=decider, action=action, review_state=Decision.ReviewState.PENDING
    )


def _appeal_on(decision, queue):
    appeal_case = factories.CaseFactory(subject=decision.case.subject, kind=Case.Kind.APPEAL, queue=queue)
    return Appeal.objects.create(
        vendor=factories.VendorFactory(),
        external_id=f"ap-{decision.pk}",
        decision=decision,
        appeal_case=appeal_case,
        statement="not spam",
        payload_hash="x",
    )


def test_escalations_count_only_cases_escalated_in_my_queues(review_setup):
    _case(review_setup.queue, status=Case.Status.ESCALATED)
    _case(review_setup.queue, status=Case.Status.OPEN)
    _case(factories.QueueFactory(slug="elsewhere"), status=Case.Status.ESCALATED)

    assert header_badges(review_setup.agent).escalations == 1


def test_an_escalation_someone_else_holds_does_not_wait_for_me(review_setup, bob):
    _case(review_setup.queue, status=Case.Status.ESCALATED, assignee=bob)

    assert header_badges(review_setup.agent).escalations == 0
    assert header_badges(bob).escalations == 1


def test_a_second_review_waits_for_everyone_but_the_first_decider(review_setup, bob):
    case = _case(review_setup.queue, status=Case.Status.PENDING_CONFIRMATION)
    _pending_decision(case, review_setup.agent, review_setup.actions["remove"])

    assert header_badges(review_setup.agent).confirmations == 0
    assert header_badges(bob).confirmations == 1


def test_an_appeal_waits_for_agents_who_neither_made_nor_confirmed_the_decision(review_setup, bob):
    decided = _case(review_setup.queue, status=Case.Status.RESOLVED)
    decision = factories.DecisionFactory(
        case=decided, decided_by=review_setup.agent, action=review_setup.actions["remove"]
    )
    _appeal_on(decision, review_setup.queue)

    assert header_badges(review_setup.agent).appeals == 0
    assert header_badges(bob).appeals == 1


def test_a_restricted_escalation_is_counted_only_for_the_cleared(review_setup):
    restricted = factories.QueueFactory(slug="child-safety", is_restricted=True)
    restricted.members.add(review_setup.agent)
    _case(restricted, status=Case.Status.ESCALATED, is_restricted=True)

    assert header_badges(review_setup.agent).escalations == 0

    QueueClearance.objects.create(user=review_setup.agent, queue=restricted, reason="trained")
    cleared = type(review_setup.agent).objects.get(pk=review_setup.agent.pk)  # queue access is memoised
    assert header_badges(cleared).escalations == 1


def test_failing_deliveries_are_shown_to_leads_only_and_without_restricted_cases(review_setup):
    open_case = _case(review_setup.queue, status=Case.Status.RESOLVED)
    decision = factories.DecisionFactory(case=open_case, action=review_setup.actions["remove"])
    Enforcement.objects.create(
        decision=decision, case=open_case, idempotency_key="e1", payload={}, state="failed"
    )
    restricted = factories.QueueFactory(slug="child-safety", is_restricted=True)
    hidden = _case(restricted, status=Case.Status.RESOLVED, is_restricted=True)
    hidden_decision = factories.DecisionFactory(case=hidden, action=review_setup.actions["remove"])
    Enforcement.objects.create(
        decision=hidden_decision, case=hidden, idempotency_key="e2", payload={}, state="failed"
    )

    assert header_badges(review_setup.agent).failing_deliveries is None
    assert header_badges(_lead()).failing_deliveries == 1


def test_the_badges_fragment_shows_the_counts_in_one_query_of_its_own(
    agent_client, review_setup, bob, django_assert_max_num_queries
):
    _case(review_setup.queue, status=Case.Status.ESCALATED)
    _case(review_setup.queue, status=Case.Status.ESCALATED)
    case = _case(review_setup.queue, status=Case.Status.PENDING_CONFIRMATION)
    _pending_decision(case, bob, review_setup.actions["remove"])

    # session, user, permissions (2, "is a lead?"), queue access, then the badges' one count and today's
    # reveals (the break suggestion); a lead adds the outbox alarm
    with django_assert_max_num_queries(7):
        response = agent_client.get(reverse("queues:badges"))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-badge="escalations">Escalations <span class="badge-count">2</span>' in html
    assert 'data-badge="confirmations">Second reviews <span class="badge-count">1</span>' in html
    assert 'data-badge="deliveries"' not in html
    assert 'hx-trigger="every 30s"' in html


@pytest.mark.parametrize("path", ["queues:dashboard"])
def test_every_page_asks_for_the_badges_once_from_the_header(agent_client, path):
    html = agent_client.get(reverse(path)).content.decode()

    assert html.count('id="badges"') == 1
    assert f'hx-get="{reverse("queues:badges")}"' in html


def test_the_badges_need_a_login(client, db):
    response = client.get(reverse("queues:badges"))

    assert response.status_code == 302


def test_each_badge_opens_the_list_of_what_it_counted(agent_client, review_setup, bob):
    waiting = _case(review_setup.queue, status=Case.Status.ESCALATED, priority=5)
    urgent = _case(review_setup.queue, status=Case.Status.ESCALATED, priority=50)
    _case(review_setup.queue, status=Case.Status.ESCALATED, assignee=bob)  # someone else holds it
    _case(review_setup.queue, status=Case.Status.OPEN)

    badges = agent_client.get(reverse("queues:badges")).content.decode()
    response = agent_client.get(reverse("queues:waiting", args=["escalations"]))

    assert f'href="{reverse("queues:waiting", args=["escalations"])}" data-badge="escalations"' in badges
    listed = [int(part.split('"')[0]) for part in response.content.decode().split('data-case="')[1:]]
    assert listed == [urgent.pk, waiting.pk]  # what the badge counted (2), most urgent first


def test_the_list_behind_a_badge_leaves_out_restricted_cases_for_the_uncleared(agent_client, review_setup):
    restricted = factories.QueueFactory(slug="child-safety", is_restricted=True)
    restricted.members.add(review_setup.agent)
    hidden = _case(restricted, status=Case.Status.ESCALATED, is_restricted=True)

    html = agent_client.get(reverse("queues:waiting", args=["escalations"])).content.decode()

    assert f'data-case="{hidden.pk}"' not in html
    assert "Nothing waits for you here." in html


def test_a_second_review_list_leaves_out_my_own_decisions(agent_client, review_setup, bob):
    mine = _case(review_setup.queue, status=Case.Status.PENDING_CONFIRMATION)
    _pending_decision(mine, review_setup.agent, review_setup.actions["remove"])
    theirs = _case(review_setup.queue, status=Case.Status.PENDING_CONFIRMATION)
    _pending_decision(theirs, bob, review_setup.actions["remove"])

    html = agent_client.get(reverse("queues:waiting", args=["confirmations"])).content.decode()

    assert f'data-case="{theirs.pk}"' in html
    assert f'data-case="{mine.pk}"' not in html


def test_an_unknown_badge_list_is_not_found(agent_client):
    assert agent_client.get("/me/waiting/everything").status_code == 404
