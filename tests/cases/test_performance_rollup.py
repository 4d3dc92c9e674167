"""The Outcomes page's per-rule daily roll-up: a person's decision landing days after a shadow rule's verdict
recounts the rule's day, and a re-run writes the same rows."""

from datetime import timedelta

from django.utils import timezone

from cases.models import Decision, PerformanceDay
from cases.services.oversight_rollup import refresh_oversight_hours
from tests import factories


def rule_days():
    return sorted(
        (r.day, r.subject_id, r.volume, r.shadow, r.reviewed, r.agreed) for r in PerformanceDay.objects.all()
    )


def test_a_late_human_decision_recounts_the_shadow_rules_day(review_setup):
    now = timezone.now()
    earlier = now - timedelta(days=3)
    policy, remove = review_setup.policies["harassment"], review_setup.actions["remove"]
    rule = factories.RoutingRuleFactory(name="Candidate insults", state="shadow")
    case = factories.CaseFactory(policy=policy, queue=review_setup.queue)
    shadow = factories.DecisionFactory(
        case=case, policy=policy, action=remove, mode=Decision.Mode.SHADOW, rule=rule
    )
    Decision.objects.filter(pk=shadow.pk).update(created_at=earlier)
    refresh_oversight_hours(since=earlier, until=earlier + timedelta(hours=1))
    ((day, subject, volume, shadows, reviewed, agreed),) = rule_days()
    assert (subject, volume, shadows, reviewed, agreed) == (rule.pk, 1, 1, 0, 0)

    # days later a person removes it too: the refresh of the last hours finds the rule's day and recounts it
    factories.DecisionFactory(case=case, policy=policy, action=remove, decided_by=review_setup.agent)
    refresh_oversight_hours(since=now - timedelta(hours=3), until=now)
    assert (day, rule.pk, 1, 1, 1, 1) in rule_days()
    first = rule_days()
    refresh_oversight_hours(since=now - timedelta(hours=3), until=now)
    assert rule_days() == first
