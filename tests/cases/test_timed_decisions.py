"""Timed actions (a 24-hour suspension, a week's restriction): the platform is told when they end, once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Decision, Enforcement
from cases.services import review
from cases.services.effects import lift_expired_decisions
from cases.tasks import lift_expired_decisions as lift_task
from moderation.models import Action, AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def suspend(review_setup):
    action = factories.ActionFactory(
        code="suspend-24h", name="Suspend 24 h", kind=Action.Kind.SUSPEND_TEMPORARY, duration_hours=24
    )
    review_setup.policies["harassment"].allowed_actions.add(action)
    return action


@pytest.fixture
def decided(review_setup, suspend):
    case = factories.hold(
        factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"]),
        review_setup.agent,
    )
    return review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=suspend.pk,
        expected_version=case.version,
    )


def test_a_timed_action_records_when_it_lapses_and_tells_the_platform(decided):
    decided.refresh_from_db()
    expected = timezone.now() + timedelta(hours=24)

    assert abs(decided.effect_expires_at - expected) < timedelta(minutes=1)
    payload = Enforcement.objects.get(decision=decided, kind="apply").payload
    assert payload["decision"]["duration_hours"] == 24
    assert payload["decision"]["expires_at"] == decided.effect_expires_at.isoformat()


def test_an_untimed_action_never_lapses(review_setup):
    case = factories.hold(
        factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["harassment"]),
        review_setup.agent,
    )
    decision = review.record_decision(
        case_id=case.pk,
        user=review_setup.agent,
        policy_id=case.policy_id,
        action_id=review_setup.actions["remove"].pk,
        expected_version=case.version,
    )

    assert Decision.objects.get(pk=decision.pk).effect_expires_at is None


def test_nothing_is_lifted_before_its_time(decided):
    assert lift_expired_decisions() == 0
    assert not Enforcement.objects.filter(kind="reverse").exists()


def test_a_lapsed_action_gets_one_reversing_enforcement_and_an_audit_event(decided):
    later = timezone.now() + timedelta(hours=25)

    first = lift_expired_decisions(now=later)
    again = lift_expired_decisions(now=later)

    assert (first, again) == (1, 0)
    reverse = Enforcement.objects.get(decision=decided, kind="reverse")
    assert reverse.payload["type"] == "enforcement.reverse"
    assert reverse.idempotency_key == f"enf_{decided.pk}_reverse"
    assert AuditEvent.objects.filter(verb="decision.expired", case_id=decided.case_id).count() == 1


def test_the_beat_task_lifts_lapsed_actions(decided):
    Decision.objects.filter(pk=decided.pk).update(effect_expires_at=timezone.now() - timedelta(seconds=1))

    assert lift_task.run() == 1
    assert Enforcement.objects.filter(decision=decided, kind="reverse").count() == 1


def test_a_decision_already_reversed_is_not_reversed_again(decided):
    Enforcement.objects.create(
        decision=decided, case=decided.case, kind="reverse", idempotency_key="manual", payload={}
    )
    Decision.objects.filter(pk=decided.pk).update(effect_expires_at=timezone.now() - timedelta(seconds=1))

    assert lift_expired_decisions() == 0
    assert Enforcement.objects.filter(decision=decided, kind="reverse").count() == 1
