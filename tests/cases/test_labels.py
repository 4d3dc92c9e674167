"""Training labels come from final human decisions only; overturns replace them; automation never labels."""

import pytest
from django.utils import timezone

from cases.labels import policy_labels
from cases.models import Appeal, Case, Decision
from cases.services import review
from tests import factories

pytestmark = pytest.mark.django_db


def _decide(case, review_setup, user, action):
    factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        reason="spam",
        expected_version=Case.objects.get(pk=case.pk).version,
    )


def test_an_agents_final_decision_labels_its_policy(review_setup):
    spam = review_setup.policies["spam"]
    removed = factories.OpenCaseFactory(queue=review_setup.queue, policy=spam)
    dismissed = factories.OpenCaseFactory(queue=review_setup.queue, policy=spam)
    _decide(removed, review_setup, review_setup.agent, "remove")
    _decide(dismissed, review_setup, review_setup.agent, "no-violation")

    labels = {label.case_id: label.violating for label in policy_labels(spam.pk)}

    assert labels == {removed.pk: True, dismissed.pk: False}
    assert policy_labels(review_setup.policies["harassment"].pk) == []


def test_automated_and_shadow_decisions_never_label(review_setup):
    spam = review_setup.policies["spam"]
    remove = review_setup.actions["remove"]
    auto = factories.CaseFactory(policy=spam, status=Case.Status.RESOLVED)
    shadow = factories.CaseFactory(policy=spam)
    factories.DecisionFactory(case=auto, action=remove, automated=True)
    factories.DecisionFactory(case=shadow, action=remove, mode=Decision.Mode.SHADOW)
    human = factories.CaseFactory(policy=spam)
    factories.DecisionFactory(case=human, action=remove, decided_by=review_setup.agent)

    assert [label.case_id for label in policy_labels(spam.pk)] == [human.pk]


def test_a_pending_decision_does_not_label_until_confirmed(review_setup, bob):
    policy = review_setup.policies["child-safety"]
    policy.requires_second_review = True
    policy.save()
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=policy)
    _decide(case, review_setup, review_setup.agent, "remove")
    assert policy_labels(policy.pk) == []

    factories.hold(case, bob)
    review.confirm_decision(case_id=case.pk, user=bob, expected_version=Case.objects.get(pk=case.pk).version)

    assert [(label.case_id, label.violating) for label in policy_labels(policy.pk)] == [(case.pk, True)]


def test_an_overturn_on_second_review_replaces_the_label(review_setup, bob):
    policy = review_setup.policies["child-safety"]
    policy.requires_second_review = True
    policy.save()
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=policy)
    _decide(case, review_setup, review_setup.agent, "remove")
    _decide(case, review_setup, bob, "no-violation")

    labels = policy_labels(policy.pk)

    assert [(label.case_id, label.violating, label.source) for label in labels] == [
        (case.pk, False, "decision")
    ]


def test_an_overturn_on_second_review_under_another_policy_says_not_the_first(review_setup, bob):
    policy = review_setup.policies["child-safety"]
    policy.requires_second_review = True
    policy.save()
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=policy)
    first = _decide(case, review_setup, review_setup.agent, "remove")
    # Bob decides it is spam, not child safety.
    factories.hold(case, bob)
    review.record_decision(
        case_id=case.pk,
        user=bob,
        policy_id=review_setup.policies["spam"].pk,
        action_id=review_setup.actions["remove"].pk,
        reason="spam",
        expected_version=Case.objects.get(pk=case.pk).version,
    )

    assert Decision.objects.get(pk=first.pk).review_state == Decision.ReviewState.OVERTURNED
    assert [(lb.violating, lb.source) for lb in policy_labels(policy.pk)] == [(False, "second_review")]
    assert [lb.violating for lb in policy_labels(review_setup.policies["spam"].pk)] == [True]


def _appeal(decision, state):
    appeal_case = factories.CaseFactory(
        subject=decision.case.subject, kind=Case.Kind.APPEAL, status="resolved"
    )
    return Appeal.objects.create(
        vendor=factories.VendorFactory(),
        external_id=f"ap-{decision.pk}",
        decision=decision,
        appeal_case=appeal_case,
        statement="not spam",
        payload_hash="x",
        state=state,
        resolved_at=timezone.now(),
    )


def test_an_overturned_appeal_replaces_the_label(review_setup):
    spam = review_setup.policies["spam"]
    case = factories.CaseFactory(policy=spam)
    decision = factories.DecisionFactory(
        case=case, action=review_setup.actions["remove"], decided_by=review_setup.agent
    )
    assert [lb.violating for lb in policy_labels(spam.pk)] == [True]

    _appeal(decision, Appeal.State.OVERTURNED)

    assert [(lb.case_id, lb.violating, lb.source) for lb in policy_labels(spam.pk)] == [
        (case.pk, False, "appeal")
    ]


def test_a_person_judging_an_appeal_on_an_automated_decision_makes_a_label(review_setup):
    spam = review_setup.policies["spam"]
    upheld = factories.DecisionFactory(
        case=factories.CaseFactory(policy=spam), action=review_setup.actions["remove"], automated=True
    )
    overturned = factories.DecisionFactory(
        case=factories.CaseFactory(policy=spam), action=review_setup.actions["remove"], automated=True
    )
    unappealed = factories.DecisionFactory(
        case=factories.CaseFactory(policy=spam), action=review_setup.actions["remove"], automated=True
    )
    _appeal(upheld, Appeal.State.UPHELD)
    _appeal(overturned, Appeal.State.OVERTURNED)

    labels = {lb.case_id: lb.violating for lb in policy_labels(spam.pk)}

    assert labels == {upheld.case_id: True, overturned.case_id: False}
    assert unappealed.case_id not in labels
