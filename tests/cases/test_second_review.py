"""Four eyes: under a policy that requires a second review, an enforcing decision waits for a different agent,
who confirms it (then it is enforced) or decides otherwise (overturn). The first decider can do neither."""

import pytest
from django.test import Client

from cases.models import Case, Decision, Enforcement, Strike
from cases.services import review
from moderation.errors import Forbidden
from moderation.models import AuditEvent
from queues.services import claim_next_case
from tests import factories

# Every test runs through both claim-next implementations (`claim_path`, tests/conftest.py): PostgreSQL's
# one statement and the portable compare-and-set path, so the claim rules hold on both.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("claim_path")]


@pytest.fixture
def four_eyes(review_setup):
    policy = review_setup.policies["child-safety"]
    policy.requires_second_review = True
    policy.save()
    return policy


@pytest.fixture
def case(review_setup, four_eyes):
    return factories.OpenCaseFactory(queue=review_setup.queue, policy=four_eyes, subject__author_id="a-1")


def first_decision(case, review_setup, *, action="remove"):
    """Alice, holding the case, decides it first."""
    factories.hold(case, review_setup.agent)
    return review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        reason="grooming language",
        expected_version=case.version,
    )


def fresh(case):
    return Case.objects.get(pk=case.pk)


def test_an_enforcing_decision_under_a_four_eyes_policy_waits_and_enforces_nothing(case, review_setup):
    decision = first_decision(case, review_setup)

    assert decision.review_state == Decision.ReviewState.PENDING
    assert fresh(case).status == Case.Status.PENDING_CONFIRMATION
    assert fresh(case).assignee is None
    assert not Enforcement.objects.exists() and not Strike.objects.exists()
    assert AuditEvent.objects.filter(verb="decision.awaiting_confirmation", case_id=case.pk).count() == 1


def test_no_violation_needs_no_second_review(case, review_setup):
    decision = first_decision(case, review_setup, action="no-violation")

    assert decision.review_state == Decision.ReviewState.FINAL
    assert fresh(case).status == Case.Status.RESOLVED


def test_a_different_agent_confirms_and_only_then_it_is_enforced(case, review_setup, bob):
    decision = first_decision(case, review_setup)
    factories.hold(case, bob)

    confirmed = review.confirm_decision(case_id=case.pk, user=bob, expected_version=fresh(case).version)

    confirmed.refresh_from_db()
    assert confirmed.pk == decision.pk
    assert (confirmed.review_state, confirmed.reviewed_by) == (Decision.ReviewState.CONFIRMED, bob)
    assert fresh(case).status == Case.Status.RESOLVED
    assert Enforcement.objects.get().decision == decision
    assert Strike.objects.get().decision == decision
    assert AuditEvent.objects.filter(verb="decision.confirmed", case_id=case.pk).count() == 1


def test_a_second_agent_must_hold_the_case_to_confirm_it(case, review_setup, bob):
    first_decision(case, review_setup)

    with pytest.raises(review.CaseConflict) as conflict:
        review.confirm_decision(case_id=case.pk, user=bob, expected_version=fresh(case).version)

    assert "Claim this case before deciding it" in conflict.value.message
    assert fresh(case).status == Case.Status.PENDING_CONFIRMATION
    assert Decision.objects.get(case=case).review_state == Decision.ReviewState.PENDING
    assert not Enforcement.objects.exists()


def test_the_first_decider_cannot_confirm_their_own_decision(case, review_setup):
    first_decision(case, review_setup)
    factories.hold(case, review_setup.agent)  # even holding it again

    with pytest.raises(Forbidden) as refused:
        review.confirm_decision(
            case_id=case.pk, user=review_setup.agent, expected_version=fresh(case).version
        )

    assert "different agent" in refused.value.message
    assert fresh(case).status == Case.Status.PENDING_CONFIRMATION
    assert not Enforcement.objects.exists()


def test_the_first_decider_cannot_overturn_by_deciding_again(case, review_setup):
    first_decision(case, review_setup)
    factories.hold(case, review_setup.agent)  # even holding it again

    with pytest.raises(Forbidden):
        review.record_decision(
            case_id=case.pk,
            user=review_setup.agent,
            policy_id=case.policy_id,
            action_id=review_setup.actions["warn"].pk,
            expected_version=fresh(case).version,
        )

    assert Decision.objects.filter(case=case).count() == 1


def test_a_second_agent_deciding_otherwise_overturns_and_their_decision_is_final(case, review_setup, bob):
    pending = first_decision(case, review_setup)
    factories.hold(case, bob)

    final = review.record_decision(
        case_id=case.pk,
        user=bob,
        policy_id=case.policy_id,
        action_id=review_setup.actions["warn"].pk,
        expected_version=fresh(case).version,
    )

    pending.refresh_from_db()
    assert pending.review_state == Decision.ReviewState.OVERTURNED and pending.reviewed_by == bob
    assert final.review_state == Decision.ReviewState.FINAL
    assert fresh(case).status == Case.Status.RESOLVED
    assert Enforcement.objects.get().decision == final  # only the final decision is delivered
    assert AuditEvent.objects.filter(verb="decision.overturned", case_id=case.pk).count() == 1


def test_claim_next_never_offers_a_pending_decision_to_its_first_decider(case, review_setup, bob):
    first_decision(case, review_setup)

    mine = claim_next_case(user=review_setup.agent, queue=review_setup.queue)
    theirs = claim_next_case(user=bob, queue=review_setup.queue)

    assert mine is None
    assert theirs.pk == case.pk
    assert theirs.status == Case.Status.PENDING_CONFIRMATION  # claiming keeps it awaiting confirmation


def test_confirming_a_case_no_longer_pending_is_a_conflict(case, review_setup, bob):
    first_decision(case, review_setup)
    carol = factories.UserFactory(username="carol")
    review_setup.queue.members.add(carol)
    factories.hold(case, bob)
    version = fresh(case).version
    review.confirm_decision(case_id=case.pk, user=bob, expected_version=version)

    with pytest.raises(review.CaseConflict):
        review.confirm_decision(case_id=case.pk, user=carol, expected_version=version)


def test_the_case_page_offers_confirm_to_others_and_explains_to_the_first_decider(
    agent_client, case, review_setup, bob
):
    first_decision(case, review_setup)
    bobs_browser = Client()
    bobs_browser.force_login(bob)

    own = agent_client.get(f"/cases/{case.pk}/").content.decode()
    other = bobs_browser.get(f"/cases/{case.pk}/").content.decode()

    assert "Awaiting a second reviewer" in own and "You made this decision" in own
    assert 'data-shortcut="confirm"' not in own
    assert 'data-shortcut="confirm"' in other


def test_confirming_through_the_page_resolves_and_moves_on(client, case, review_setup, bob):
    first_decision(case, review_setup)
    factories.hold(case, bob, claim=True)  # bob claims it from the queue, as claim-next would offer it
    client.force_login(bob)

    response = client.post(
        f"/cases/{case.pk}/confirm",
        {"version": fresh(case).version},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="case-main",
    )

    assert response.status_code == 200
    assert "confirmed" in response["HX-Trigger"]
    assert fresh(case).status == Case.Status.RESOLVED


def test_the_first_decider_confirming_through_the_page_is_forbidden_and_told_why(
    agent_client, case, review_setup
):
    first_decision(case, review_setup)
    factories.hold(case, review_setup.agent)  # even holding it again

    response = agent_client.post(
        f"/cases/{case.pk}/confirm",
        {"version": fresh(case).version},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="case-main",
    )

    assert response.status_code == 403
    assert "different agent" in response["HX-Trigger"]  # htmx does not swap a 403: the toast says why
    assert fresh(case).status == Case.Status.PENDING_CONFIRMATION


def test_a_report_under_a_four_eyes_policy_needs_a_second_review_whatever_the_decision_says(
    review_setup, four_eyes
):
    """The case and the decision are under spam; one of its reports was filed under child safety."""
    spam = review_setup.policies["spam"]
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=spam)
    factories.ReportFactory(case=case, policy=four_eyes)
    factories.hold(case, review_setup.agent)

    review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=spam.pk,
        action_id=review_setup.actions["remove"].pk,
        expected_version=case.version,
    )

    assert fresh(case).status == Case.Status.PENDING_CONFIRMATION
    assert not Enforcement.objects.exists()
