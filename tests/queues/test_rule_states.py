"""Rule states (draft → shadow → live, paused), a version on every change, and the match log routing writes."""

import pytest

from cases.models import Case, Decision
from moderation.errors import Invalid
from moderation.models import AuditEvent
from queues.models import RoutingRule, RoutingRuleVersion, RuleMatch
from queues.services import route_case
from queues.services.rule_changes import change_rule_state
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(username="root", is_superuser=True, is_staff=True)


def toxic_rule(queues, **fields):
    rule = factories.RoutingRuleFactory(name="toxic", target_queue=queues["harassment"], **fields)
    factories.ScoreConditionFactory(rule=rule, label="toxicity", threshold=0.8)
    return rule


class TestTransitions:
    @pytest.mark.parametrize(
        ("old", "new"),
        [
            ("draft", "shadow"),
            ("draft", "live"),
            ("shadow", "live"),
            ("live", "paused"),
            ("shadow", "paused"),
            ("paused", "shadow"),
            ("paused", "live"),
            ("live", "shadow"),
        ],
    )
    def test_allowed_transitions_are_versioned_and_audited(self, queues, admin_user, old, new):
        rule = toxic_rule(queues, state=old)

        change = change_rule_state(rule_id=rule.pk, state=new, user=admin_user, note="why not")

        rule.refresh_from_db()
        assert rule.state == new and rule.version == 1
        assert change.version.snapshot["state"] == new and change.version.changed_by == admin_user
        moved = AuditEvent.objects.get(verb="rule.state_changed", target_id=str(rule.pk))
        assert (moved.data["from"], moved.data["to"], moved.actor_label) == (old, new, "root")
        versioned = AuditEvent.objects.get(verb="rule.versioned", target_id=str(rule.pk))
        assert versioned.data["old"]["state"] == old and versioned.data["new"]["state"] == new

    @pytest.mark.parametrize(("old", "new"), [("live", "draft"), ("paused", "draft"), ("shadow", "draft")])
    def test_nothing_goes_back_to_draft(self, queues, admin_user, old, new):
        rule = toxic_rule(queues, state=old)

        with pytest.raises(Invalid) as refused:
            change_rule_state(rule_id=rule.pk, state=new, user=admin_user)

        assert refused.value.field == "state"
        assert RoutingRule.objects.get(pk=rule.pk).state == old
        assert not RoutingRuleVersion.objects.exists() and not AuditEvent.objects.exists()

    def test_an_unknown_state_names_the_field(self, queues, admin_user):
        rule = toxic_rule(queues, state="draft")
        with pytest.raises(Invalid) as refused:
            change_rule_state(rule_id=rule.pk, state="on", user=admin_user)
        assert refused.value.field == "state"


class TestAdminSaves:
    def form(self, queues, **overrides):
        data = {
            "name": "toxic",
            "position": 5,
            "state": "shadow",
            "description": "",
            "languages": "",
            "priority_boost": 0,
            "target_queue": queues["harassment"].pk,
            "automation_mode": "off",
            "score_conditions-TOTAL_FORMS": 1,
            "score_conditions-INITIAL_FORMS": 0,
            "score_conditions-0-source": "scorer",
            "score_conditions-0-source_name": "",
            "score_conditions-0-label": "toxicity",
            "score_conditions-0-operator": "gte",
            "score_conditions-0-threshold": "0.8",
        }
        return data | overrides

    def test_every_admin_save_writes_a_version_with_the_saved_conditions(self, admin_client, queues):
        response = admin_client.post("/admin/queues/routingrule/add/", self.form(queues))
        assert response.status_code == 302
        rule = RoutingRule.objects.get()
        condition = rule.score_conditions.get()

        response = admin_client.post(
            f"/admin/queues/routingrule/{rule.pk}/change/",
            self.form(
                queues,
                state="live",
                **{
                    "score_conditions-INITIAL_FORMS": 1,
                    "score_conditions-0-id": condition.pk,
                    "score_conditions-0-rule": rule.pk,
                    "score_conditions-0-threshold": "0.6",
                },
            ),
        )
        assert response.status_code == 302

        versions = list(rule.versions.order_by("number"))
        assert [(v.number, v.state) for v in versions] == [(1, "shadow"), (2, "live")]
        # The snapshot is taken after the inline was saved: version 2 has the new threshold.
        assert [c["threshold"] for c in versions[0].snapshot["conditions"]] == [0.8]
        assert [c["threshold"] for c in versions[1].snapshot["conditions"]] == [0.6]
        event = AuditEvent.objects.filter(verb="rule.versioned").order_by("id").last()
        assert event.data["old"]["conditions"][0]["threshold"] == 0.8
        assert event.data["new"]["conditions"][0]["threshold"] == 0.6
        page = admin_client.get(f"/admin/queues/routingrule/{rule.pk}/change/").content.decode()
        assert "v2" in page and "v1" in page and "Backtest 7 days" in page

    def test_the_admin_refuses_a_transition_back_to_draft(self, admin_client, queues):
        rule = toxic_rule(queues, state="live")
        data = self.form(queues, state="draft", **{"score_conditions-TOTAL_FORMS": 0})
        response = admin_client.post(f"/admin/queues/routingrule/{rule.pk}/change/", data)
        assert response.status_code == 200
        assert "can move to" in response.content.decode()
        assert RoutingRule.objects.get(pk=rule.pk).state == "live"
        assert not RoutingRuleVersion.objects.exists()

    def test_saving_without_changes_writes_no_version(self, admin_client, queues):
        admin_client.post("/admin/queues/routingrule/add/", self.form(queues))
        rule = RoutingRule.objects.get()
        condition = rule.score_conditions.get()
        admin_client.post(
            f"/admin/queues/routingrule/{rule.pk}/change/",
            self.form(
                queues,
                **{
                    "score_conditions-INITIAL_FORMS": 1,
                    "score_conditions-0-id": condition.pk,
                    "score_conditions-0-rule": rule.pk,
                },
            ),
        )
        assert rule.versions.count() == 1


class TestShadowState:
    def test_a_shadow_rule_logs_what_it_would_do_and_changes_nothing(self, queues, make_case, actions):
        rule = toxic_rule(queues, state="shadow")
        case = make_case(signals={"toxicity": 0.9})

        route_case(case_id=case.pk)

        case.refresh_from_db()
        assert case.queue == queues["general"] and case.routed_by_rule is None
        match = RuleMatch.objects.get(rule=rule)
        assert (match.mode, match.outcome, match.queue, match.case_id) == (
            "shadow",
            "would_route",
            queues["harassment"],
            case.pk,
        )

    def test_a_shadow_rule_that_would_decide_writes_no_decision(self, queues, make_case, policies, actions):
        policies["harassment"].allowed_actions.add(actions["remove"])
        rule = toxic_rule(
            queues,
            state="shadow",
            automation_mode="live",
            auto_policy=policies["harassment"],
            auto_action=actions["remove"],
        )
        case = make_case(signals={"toxicity": 0.9})

        route_case(case_id=case.pk)

        assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN
        assert not Decision.objects.exists()
        match = RuleMatch.objects.get(rule=rule)
        assert (match.outcome, match.action) == ("would_decide", actions["remove"])

    def test_a_live_rule_logs_its_match_once_per_version(self, queues, make_case, admin_user):
        rule = toxic_rule(queues, state="live")
        case = make_case(signals={"toxicity": 0.9})

        route_case(case_id=case.pk)
        route_case(case_id=case.pk)
        assert RuleMatch.objects.filter(rule=rule).count() == 1
        assert RuleMatch.objects.get(rule=rule).outcome == "routed"

        change_rule_state(rule_id=rule.pk, state="shadow", user=admin_user)
        change_rule_state(rule_id=rule.pk, state="live", user=admin_user)
        route_case(case_id=case.pk)
        assert sorted(RuleMatch.objects.filter(rule=rule).values_list("rule_version", flat=True)) == [0, 2]

    def test_routing_with_shadow_and_live_rules_stays_within_its_query_budget(
        self, queues, make_case, django_assert_max_num_queries
    ):
        for n in range(5):
            toxic_rule(queues, state="shadow" if n % 2 else "live", position=n)
        case = make_case(signals={"toxicity": 0.9})
        route_case(case_id=case.pk)  # warm the rule cache
        other = make_case(signals={"toxicity": 0.9})
        with django_assert_max_num_queries(14):
            route_case(case_id=other.pk)
        assert RuleMatch.objects.filter(case=other).count() == 3  # 2 shadow rules + the first live one
