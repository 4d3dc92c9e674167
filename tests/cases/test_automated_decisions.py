"""Automation decides through the same service as agents (`cases.services.review.decisions`): routing only
asks `decide_automatically`, which decides an untouched case once and declines anything else."""

import pytest
from django.db import transaction

from cases.models import Case, Decision, Enforcement, Reporter, Strike
from cases.services.review.decisions import decide_automatically
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_rule(review_setup):
    return factories.RoutingRuleFactory(
        automation_mode="live",
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
    )


@pytest.fixture
def reported(review_setup, vendor):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])
    factories.ReportFactory(case=case, vendor=vendor, reporter_id="reporter-1")
    return case


def decide(case, rule, **kwargs):
    with transaction.atomic():
        locked = Case.objects.select_for_update().select_related("subject").get(pk=case.pk)
        return decide_automatically(case=locked, rule=rule, **kwargs)


def test_an_automated_decision_takes_effect_as_an_agents_does(reported, live_rule, vendor):
    version = reported.version

    decision = decide(reported, live_rule)

    case = Case.objects.get(pk=reported.pk)
    assert (case.status, case.version, case.assignee_id) == (Case.Status.RESOLVED, version + 1, None)
    assert (decision.automated, decision.rule, decision.decided_by) == (True, live_rule, None)
    assert Enforcement.objects.filter(decision=decision).exists()
    assert Strike.objects.filter(decision=decision, author_id=case.subject.author_id).exists()
    assert Reporter.objects.get(vendor=vendor, reporter_id="reporter-1").upheld_count == 1
    assert AuditEvent.objects.filter(
        verb="decision.automated", case_id=case.pk, actor_label="router"
    ).exists()


def test_automation_declines_a_case_an_agent_holds_and_writes_nothing(reported, live_rule, review_setup):
    factories.hold(reported, review_setup.agent)

    assert decide(reported, live_rule) is None

    assert not Decision.objects.exists()
    assert Case.objects.get(pk=reported.pk).assignee == review_setup.agent


def test_automation_decides_a_case_once(reported, live_rule):
    decide(reported, live_rule)
    Case.objects.filter(pk=reported.pk).update(status=Case.Status.OPEN)  # reopened, say by new reports

    assert decide(reported, live_rule) is None
    assert Decision.objects.filter(case=reported).count() == 1


def test_the_callers_other_changes_to_the_case_are_saved_with_the_decision(reported, live_rule):
    with transaction.atomic():
        locked = Case.objects.select_for_update().select_related("subject").get(pk=reported.pk)
        locked.max_score = 0.99
        decide_automatically(case=locked, rule=live_rule, also=("max_score",))

    assert Case.objects.get(pk=reported.pk).max_score == 0.99


def test_the_user_is_told_the_policy_text_when_the_template_needs_an_agents_words(
    reported, live_rule, review_setup
):
    from moderation.models import MessageTemplate

    spam = review_setup.policies["spam"]
    spam.user_facing_text = "Spam is not allowed here."
    spam.save()
    MessageTemplate.objects.create(action=review_setup.actions["remove"], body="Removed because {reason}.")

    decision = decide(reported, live_rule)

    assert Decision.objects.get(pk=decision.pk).user_message == "Spam is not allowed here."


def test_a_template_automation_can_fill_is_what_the_user_is_told(reported, live_rule, review_setup):
    from moderation.models import MessageTemplate

    MessageTemplate.objects.create(action=review_setup.actions["remove"], body="Removed under {policy}.")

    decision = decide(reported, live_rule)

    assert Decision.objects.get(pk=decision.pk).user_message == "Removed under Spam."


def test_a_shadow_rule_records_and_audits_once_per_case_and_rule(reported, review_setup):
    from cases.services.review.decisions import record_shadow_decision

    shadow = factories.RoutingRuleFactory(
        automation_mode="shadow",
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
    )

    assert record_shadow_decision(case=reported, rule=shadow) is True
    assert record_shadow_decision(case=reported, rule=shadow) is False

    assert Decision.objects.filter(case=reported, mode="shadow").count() == 1
    assert AuditEvent.objects.filter(verb="decision.shadow_recorded", case_id=reported.pk).count() == 1
    assert Case.objects.get(pk=reported.pk).status == Case.Status.OPEN
