"""Once a decision is reversed (appeal overturned, timed action lapsed), its apply enforcement is never
delivered again: a pending or failed one is cancelled, and a lead's retry of it is refused."""

import pytest

from cases.models import Enforcement
from cases.services import enforcement as enforcement_service
from cases.services import outbox, review
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def decision(review_setup):
    case = factories.hold(
        factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"]),
        review_setup.agent,
    )
    return review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions["remove"].pk,
        expected_version=case.version,
    )


@pytest.mark.parametrize("state", ["pending", "failed"])
def test_a_reversal_cancels_an_undelivered_apply(decision, state):
    Enforcement.objects.filter(decision=decision, kind="apply").update(state=state)

    enforcement_service.create_enforcement(decision=decision, kind="reverse")

    apply = Enforcement.objects.get(decision=decision, kind="apply")
    assert apply.state == "failed"
    assert apply.last_error == outbox.SUPERSEDED


def test_a_delivered_apply_stays_delivered_and_the_reversal_is_sent(decision):
    Enforcement.objects.filter(decision=decision, kind="apply").update(state="delivered")

    reverse = enforcement_service.create_enforcement(decision=decision, kind="reverse")

    assert Enforcement.objects.get(decision=decision, kind="apply").state == "delivered"
    assert reverse.state == "pending"


def test_a_lead_cannot_retry_the_apply_of_a_reversed_decision(decision, review_setup):
    enforcement_service.create_enforcement(decision=decision, kind="reverse")
    apply = Enforcement.objects.get(decision=decision, kind="apply")

    assert outbox.retry(kind=outbox.ENFORCEMENT, message_id=apply.pk, user=review_setup.agent) is None
    assert Enforcement.objects.get(pk=apply.pk).state == "failed"


def test_an_apply_still_queued_when_the_reversal_lands_is_not_sent(decision):
    apply = Enforcement.objects.get(decision=decision, kind="apply")
    Enforcement.objects.create(
        decision=decision, case=decision.case, kind="reverse", idempotency_key="rev", payload={}
    )  # created without the cancellation, as if by a race

    outcome = outbox.deliver(kind=outbox.ENFORCEMENT, message_id=apply.pk)

    assert outcome.state == "failed"
    assert Enforcement.objects.get(pk=apply.pk).last_error == outbox.SUPERSEDED
