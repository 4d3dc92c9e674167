"""Routing rules: first live match wins, shadow rules record without acting, the default catches the rest."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from cases.models import Case, Decision
from moderation.models import AuditEvent
from queues.models import RoutingRule
from queues.services import route_case
from tests import factories

pytestmark = pytest.mark.django_db


def rule(*, policies=(), conditions=(), **fields):
    """A rule; conditions are (label, operator, threshold) on scorer signals or (source, label, operator,
    threshold)."""
    created = factories.RoutingRuleFactory(**fields)
    created.policies.set(policies)
    for condition in conditions:
        source, label, operator, threshold = condition if len(condition) == 4 else ("scorer", *condition)
        factories.ScoreConditionFactory(
            rule=created, source=source, label=label, operator=operator, threshold=threshold
        )
    return created


def test_unmatched_case_goes_to_the_default_queue_with_policy_sla(queues, make_case):
    case = make_case(reasons=("spam",))
    outcome = route_case(case_id=case.pk)

    case.refresh_from_db()
    assert outcome.queue_id == queues["general"].pk and outcome.rule_id is None
    assert case.queue == queues["general"]
    assert case.routed_at is not None
    assert case.sla_due_at == case.opened_at + timedelta(hours=72)
    assert AuditEvent.objects.filter(case_id=case.pk, verb="case.routed").count() == 1


def test_rule_routes_by_policy_with_boost_and_queue_sla(queues, policies, make_case):
    rule(
        name="harassment",
        policies=[policies["harassment"]],
        target_queue=queues["harassment"],
        priority_boost=30,
    )
    case = make_case(reasons=("harassment",))
    spam_case = make_case(reasons=("spam",))

    route_case(case_id=case.pk)
    route_case(case_id=spam_case.pk)

    case.refresh_from_db()
    spam_case.refresh_from_db()
    assert case.queue == queues["harassment"]
    assert spam_case.queue == queues["general"]
    assert case.routed_by_rule.name == "harassment"
    assert case.sla_due_at == case.opened_at + timedelta(hours=6)
    # severity 3 → 60, one reporter → 10, vendor reliability 0.8 → 16, boost 30
    assert case.priority == pytest.approx(116)


def test_score_threshold_rule_matches_only_at_or_above_the_threshold(queues, make_case):
    rule(name="toxic", target_queue=queues["harassment"], conditions=[("toxicity", "gte", 0.8)])
    high = make_case(signals={"toxicity": 0.85})
    low = make_case(signals={"toxicity": 0.79})
    missing = make_case()

    for case in (high, low, missing):
        route_case(case_id=case.pk)

    assert Case.objects.get(pk=high.pk).queue == queues["harassment"]
    assert Case.objects.get(pk=low.pk).queue == queues["general"]
    assert Case.objects.get(pk=missing.pk).queue == queues["general"]


def test_context_facts_can_be_conditions(queues, make_case):
    rule(
        name="new accounts",
        target_queue=queues["harassment"],
        conditions=[("context", "account_age_days", "lte", 7)],
    )
    young = make_case(signals={"account_age_days": 3})
    old = make_case(signals={"account_age_days": 400})
    route_case(case_id=young.pk)
    route_case(case_id=old.pk)
    assert Case.objects.get(pk=young.pk).queue == queues["harassment"]
    assert Case.objects.get(pk=old.pk).queue == queues["general"]


def test_first_matching_rule_wins(queues, make_case):
    rule(name="first", position=1, target_queue=queues["child-safety"])
    rule(name="second", position=2, target_queue=queues["harassment"])
    case = make_case()
    route_case(case_id=case.pk)
    assert Case.objects.get(pk=case.pk).queue == queues["child-safety"]


@pytest.mark.parametrize(
    ("field", "value", "matches"),
    [
        ("subject_kinds", ["message"], True),
        ("subject_kinds", ["media", "post"], False),
        ("languages", ["en"], True),
        ("languages", ["de"], False),
    ],
)
def test_subject_kind_and_language_conditions(queues, make_case, field, value, matches):
    rule(name="r", target_queue=queues["harassment"], **{field: value})
    case = make_case(kind="message", language="en-GB")
    route_case(case_id=case.pk)
    assert (Case.objects.get(pk=case.pk).queue == queues["harassment"]) is matches


def test_vendor_condition(queues, make_case, vendor, other_vendor):
    only_other = rule(name="other vendor", target_queue=queues["harassment"])
    only_other.vendors.set([other_vendor])
    case = make_case()
    route_case(case_id=case.pk)
    assert Case.objects.get(pk=case.pk).queue == queues["general"]
    only_other.vendors.set([vendor])
    route_case(case_id=case.pk)
    assert Case.objects.get(pk=case.pk).queue == queues["harassment"]


@pytest.mark.parametrize("state", ["draft", "paused"])
def test_draft_and_paused_rules_are_ignored(queues, make_case, state):
    rule(name="off", target_queue=queues["harassment"], state=state)
    case = make_case()
    route_case(case_id=case.pk)
    assert Case.objects.get(pk=case.pk).queue == queues["general"]


class TestAutomaticDecisions:
    def test_live_rule_decides_and_resolves_the_case(self, queues, policies, actions, make_case):
        policies["spam"].allowed_actions.add(actions["remove"])
        rule(
            name="hash match",
            automation_mode="live",
            auto_policy=policies["spam"],
            auto_action=actions["remove"],
            conditions=[("context", "hash_match", "eq", 1)],
        )
        case = make_case(reasons=("spam",), signals={"hash_match": True})

        outcome = route_case(case_id=case.pk)

        case.refresh_from_db()
        assert outcome.auto_decided
        assert case.status == Case.Status.RESOLVED and case.resolved_at is not None
        decision = Decision.objects.get(case=case)
        assert (decision.mode, decision.automated, decision.action.code) == ("live", True, "remove")
        assert AuditEvent.objects.filter(case_id=case.pk, verb="decision.automated").exists()
        assert route_case(case_id=case.pk) is None  # resolved: nothing more to route

    def test_shadow_rule_records_what_it_would_do_and_changes_nothing(
        self, queues, policies, actions, make_case
    ):
        policies["spam"].allowed_actions.add(actions["remove"])
        shadow = rule(
            name="shadow remove",
            position=1,
            automation_mode="shadow",
            auto_policy=policies["spam"],
            auto_action=actions["remove"],
            conditions=[("spam", "gte", 0.9)],
        )
        rule(name="spam queue", position=2, policies=[policies["spam"]], target_queue=queues["harassment"])
        case = make_case(reasons=("spam",), signals={"spam": 0.97})

        outcome = route_case(case_id=case.pk)
        route_case(case_id=case.pk)  # re-routing records the shadow verdict once

        case.refresh_from_db()
        assert outcome.shadow_rule_ids == (shadow.pk,) and not outcome.auto_decided
        assert case.status == Case.Status.OPEN
        assert case.queue == queues["harassment"]  # the next rule still routed it
        shadow_decisions = Decision.objects.filter(case=case, mode="shadow")
        assert shadow_decisions.count() == 1
        assert shadow_decisions.get().action.code == "remove"
        assert not Decision.objects.filter(case=case, mode="live").exists()


def test_held_case_keeps_its_queue_when_rerouted(queues, make_case, policies):
    case = make_case()
    route_case(case_id=case.pk)
    agent = factories.UserFactory()
    Case.objects.filter(pk=case.pk).update(assignee=agent, status=Case.Status.IN_REVIEW)
    rule(name="move", target_queue=queues["harassment"], priority_boost=50)

    route_case(case_id=case.pk)

    case.refresh_from_db()
    assert case.queue == queues["general"]
    assert case.priority >= 50


def test_rerouting_with_the_same_outcome_writes_no_new_audit_event(queues, make_case):
    case = make_case()
    route_case(case_id=case.pk)
    route_case(case_id=case.pk)
    assert AuditEvent.objects.filter(case_id=case.pk, verb__startswith="case.").count() == 1


def test_no_default_queue_leaves_the_case_unrouted(policies, make_case):
    case = make_case()
    assert route_case(case_id=case.pk) is None
    assert Case.objects.get(pk=case.pk).routed_at is None


class TestRuleValidation:
    def test_rule_needs_a_queue_or_a_decision(self, policies):
        with pytest.raises(ValidationError) as error:
            RoutingRule(name="nothing").full_clean()
        assert "target_queue" in error.value.message_dict

    def test_automatic_action_must_be_allowed_by_the_policy(self, policies, actions):
        candidate = RoutingRule(
            name="bad", automation_mode="live", auto_policy=policies["spam"], auto_action=actions["warn"]
        )
        with pytest.raises(ValidationError) as error:
            candidate.full_clean()
        assert "not allowed" in error.value.message_dict["auto_action"][0]

    def test_automation_needs_policy_and_action(self, policies):
        with pytest.raises(ValidationError) as error:
            RoutingRule(name="half", automation_mode="shadow").full_clean()
        assert {"auto_policy", "auto_action"} <= set(error.value.message_dict)

    @pytest.mark.parametrize(
        ("field", "value"),
        [("subject_kinds", ["tweet"]), ("languages", ["english!"]), ("priority_boost", 1e6)],
    )
    def test_bad_conditions_are_named(self, queues, field, value):
        with pytest.raises(ValidationError) as error:
            RoutingRule(name="x", target_queue=queues["general"], **{field: value}).full_clean()
        assert field in error.value.message_dict

    def test_admin_shows_rule_errors_instead_of_saving(self, admin_client, policies):
        response = admin_client.post(
            "/admin/queues/routingrule/add/",
            {
                "name": "incomplete",
                "position": 1,
                "state": "live",
                "languages": "",
                "priority_boost": 0,
                "automation_mode": "off",
                "score_conditions-TOTAL_FORMS": 0,
                "score_conditions-INITIAL_FORMS": 0,
            },
        )
        assert response.status_code == 200
        assert "Choose a target queue or an automatic decision" in response.content.decode()
        assert not RoutingRule.objects.exists()


class TestAutomationDecidesOnce:
    @pytest.fixture
    def escalate_rule(self, policies, queues):
        escalate = factories.ActionFactory(code="escalate", kind="escalate")
        policies["harassment"].allowed_actions.add(escalate)
        return rule(
            name="auto-escalate",
            automation_mode="live",
            auto_policy=policies["harassment"],
            auto_action=escalate,
            target_queue=queues["child-safety"],
            conditions=[("toxicity", "gte", 0.5)],
        )

    def test_an_escalating_rule_decides_once_however_often_the_case_is_rerouted(
        self, escalate_rule, make_case
    ):
        case = make_case(signals={"toxicity": 0.9})
        first = route_case(case_id=case.pk)
        second = route_case(case_id=case.pk)

        assert first.auto_decided and not second.auto_decided
        assert Decision.objects.filter(case=case, mode="live").count() == 1
        assert Case.objects.get(pk=case.pk).status == Case.Status.ESCALATED

    def test_automation_never_takes_a_case_an_agent_holds(self, escalate_rule, make_case, queues):
        case = make_case(signals={"toxicity": 0.9})
        Case.objects.filter(pk=case.pk).update(assignee=factories.UserFactory(), status=Case.Status.IN_REVIEW)

        outcome = route_case(case_id=case.pk)

        assert not outcome.auto_decided
        assert not Decision.objects.filter(case=case).exists()
        assert Case.objects.get(pk=case.pk).assignee is not None

    def test_database_refuses_an_automated_rule_without_policy_and_action(self, db):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            RoutingRule.objects.create(name="broken", automation_mode="live")


class TestShadowPrecision:
    def test_agreement_is_counted_against_the_latest_human_decision(
        self, queues, policies, actions, make_case
    ):
        from queues.selectors import shadow_scores

        policies["spam"].allowed_actions.add(actions["remove"])
        shadow = rule(
            name="shadow",
            automation_mode="shadow",
            auto_policy=policies["spam"],
            auto_action=actions["remove"],
            target_queue=queues["general"],
            conditions=[("spam", "gte", 0.9)],
        )
        agreed, disagreed, pending = (make_case(reasons=("spam",), signals={"spam": 0.95}) for _ in range(3))
        for case in (agreed, disagreed, pending):
            route_case(case_id=case.pk)
        agent = factories.UserFactory()
        factories.DecisionFactory(case=agreed, action=actions["warn"], decided_by=agent)
        factories.DecisionFactory(
            case=agreed, action=actions["remove"], decided_by=agent
        )  # corrected: latest wins
        factories.DecisionFactory(case=disagreed, action=actions["warn"], decided_by=agent)

        score = shadow_scores([shadow.pk])[shadow.pk]

        assert (score.recorded, score.reviewed, score.agreed) == (3, 2, 1)
        assert score.precision == 0.5

    def test_rules_page_shows_precision_with_bounded_queries(
        self, admin_client, queues, policies, actions, make_case, django_assert_max_num_queries
    ):
        policies["spam"].allowed_actions.add(actions["remove"])
        for n in range(20):
            rule(
                name=f"shadow {n}",
                automation_mode="shadow",
                auto_policy=policies["spam"],
                auto_action=actions["remove"],
                target_queue=queues["general"],
                conditions=[("spam", "gte", 0.9)],
            )
        route_case(case_id=make_case(reasons=("spam",), signals={"spam": 0.95}).pk)
        with django_assert_max_num_queries(15):
            response = admin_client.get("/admin/queues/routingrule/")
        assert response.status_code == 200
        assert "1 recorded, none reviewed by a person yet" in response.content.decode()
