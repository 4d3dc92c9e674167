"""Signal conditions trust a named source: a vendor's score is the vendor's claim, never our model's verdict."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cases.models import Case, Decision, Scorer, Signal
from queues.models import RoutingRule, ScoreCondition
from queues.services import route_case
from tests import factories

pytestmark = pytest.mark.django_db

SCORER = ScoreCondition.Source.SCORER
VENDOR = ScoreCondition.Source.VENDOR


@pytest.fixture
def remove(policies, actions):
    policies["harassment"].allowed_actions.add(actions["remove"])
    return actions["remove"]


def automated_rule(policies, remove, *, mode="live", source=SCORER, source_name="", label="profanity"):
    rule = factories.RoutingRuleFactory(
        name=f"auto remove ({mode})",
        automation_mode=mode,
        auto_policy=policies["harassment"],
        auto_action=remove,
    )
    factories.ScoreConditionFactory(
        rule=rule, source=source, source_name=source_name, label=label, threshold=0.9
    )
    return rule


def scored(case, *, source, source_name, label="profanity", score=1.0):
    return factories.SignalFactory(
        case=case, source=source, source_name=source_name, label=label, score=score
    )


class TestMatching:
    def test_a_vendor_score_with_the_models_label_does_not_satisfy_a_scorer_condition(
        self, queues, make_case
    ):
        factories.ScoreConditionFactory(
            rule=factories.RoutingRuleFactory(name="offensive", target_queue=queues["harassment"]),
            source=SCORER,
            label="profanity",
            threshold=0.9,
        )
        case = make_case()
        scored(case, source=Signal.Source.VENDOR_SCORE, source_name="acme")

        route_case(case_id=case.pk)

        assert Case.objects.get(pk=case.pk).queue == queues["general"]

    def test_the_models_own_score_satisfies_the_scorer_condition(self, queues, make_case):
        factories.ScoreConditionFactory(
            rule=factories.RoutingRuleFactory(name="offensive", target_queue=queues["harassment"]),
            source=SCORER,
            label="profanity",
            threshold=0.9,
        )
        case = make_case()
        scored(case, source=Signal.Source.SCORER, source_name="Built-in text model", score=0.95)

        route_case(case_id=case.pk)

        assert Case.objects.get(pk=case.pk).queue == queues["harassment"]

    def test_a_condition_naming_vendor_x_is_satisfied_by_x_and_not_by_y(
        self, queues, make_case, vendor, other_vendor
    ):
        factories.ScoreConditionFactory(
            rule=factories.RoutingRuleFactory(name="acme says spam", target_queue=queues["harassment"]),
            source=VENDOR,
            source_name=vendor.slug,
            label="spam",
            threshold=0.9,
        )
        from_acme, from_other = make_case(), make_case()
        scored(from_acme, source=Signal.Source.VENDOR_SCORE, source_name=vendor.slug, label="spam")
        scored(from_other, source=Signal.Source.VENDOR_SCORE, source_name=other_vendor.slug, label="spam")

        route_case(case_id=from_acme.pk)
        route_case(case_id=from_other.pk)

        assert Case.objects.get(pk=from_acme.pk).queue == queues["harassment"]
        assert Case.objects.get(pk=from_other.pk).queue == queues["general"]

    def test_a_condition_naming_a_scorer_ignores_another_scorers_label(self, queues, make_case):
        factories.ScoreConditionFactory(
            rule=factories.RoutingRuleFactory(name="built-in only", target_queue=queues["harassment"]),
            source=SCORER,
            source_name="Built-in text model",
            label="profanity",
            threshold=0.9,
        )
        case = make_case()
        scored(case, source=Signal.Source.SCORER, source_name="Some HTTP API")

        route_case(case_id=case.pk)

        assert Case.objects.get(pk=case.pk).queue == queues["general"]


class TestAutomatedDecisions:
    @pytest.mark.parametrize("mode", ["live", "shadow"])
    def test_a_vendor_sending_the_models_label_triggers_no_automated_decision(
        self, api, report_body, queues, policies, remove, mode, django_capture_on_commit_callbacks
    ):
        automated_rule(policies, remove, mode=mode)
        body = report_body(scores=[{"label": "profanity", "score": 1.0}])

        with django_capture_on_commit_callbacks(execute=True):  # enrichment and routing, as a worker would
            response = api.post("/api/v1/reports", body, format="json")

        case = Case.objects.get(pk=response.json()["case_id"])
        assert Signal.objects.get(case=case).source == Signal.Source.VENDOR_SCORE
        assert case.routed_at is not None and case.status == Case.Status.OPEN
        assert case.queue == queues["general"]
        assert not Decision.objects.filter(case=case).exists()

    def test_the_models_own_score_triggers_the_live_decision(self, queues, policies, remove, make_case):
        automated_rule(policies, remove)
        case = make_case()
        scored(case, source=Signal.Source.SCORER, source_name="Built-in text model", score=0.97)

        outcome = route_case(case_id=case.pk)

        assert outcome.auto_decided
        decision = Decision.objects.get(case=case)
        assert (decision.mode, decision.automated, decision.action) == ("live", True, remove)

    def test_a_named_vendors_score_may_decide_automatically(
        self, queues, policies, remove, make_case, vendor
    ):
        automated_rule(policies, remove, source=VENDOR, source_name=vendor.slug)
        case = make_case()
        scored(case, source=Signal.Source.VENDOR_SCORE, source_name=vendor.slug)

        assert route_case(case_id=case.pk).auto_decided

    def test_routing_never_lets_an_unattributable_automated_rule_decide(
        self, queues, policies, remove, make_case, vendor
    ):
        # Saved without the admin's checks (a shell, a script): any vendor's score, and no condition at all.
        automated_rule(policies, remove, source=VENDOR, source_name="")
        factories.RoutingRuleFactory(
            name="policy only", automation_mode="live", auto_policy=policies["harassment"], auto_action=remove
        )
        case = make_case()
        scored(case, source=Signal.Source.VENDOR_SCORE, source_name=vendor.slug)

        outcome = route_case(case_id=case.pk)

        assert not outcome.auto_decided
        assert not Decision.objects.filter(case=case).exists()
        assert Case.objects.get(pk=case.pk).queue == queues["general"]


class TestConditionValidation:
    def errors(self, **fields) -> dict:
        fields.setdefault("rule", factories.RoutingRuleFactory())
        condition = ScoreCondition(operator="gte", threshold=0.5, **fields)
        with pytest.raises(ValidationError) as error:
            condition.full_clean()
        return error.value.message_dict

    def test_a_condition_must_name_its_source(self):
        assert "source" in self.errors(label="profanity")

    def test_the_database_refuses_a_condition_without_a_source(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            ScoreCondition.objects.create(rule=factories.RoutingRuleFactory(), label="x", threshold=1)

    def test_active_strikes_are_a_system_fact(self):
        assert "system fact" in self.errors(source=SCORER, label="author.active_strikes")["source"][0]
        assert "only author.active_strikes" in self.errors(source="system", label="profanity")["label"][0]
        ScoreCondition(
            rule=factories.RoutingRuleFactory(), source="system", label="author.active_strikes", threshold=2
        ).full_clean()

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            (VENDOR, "No vendor slug is called 'nobody'."),
            (SCORER, "No scorer is called 'nobody'."),
            (ScoreCondition.Source.CONTEXT, "No context provider is called 'nobody'."),
        ],
    )
    def test_a_named_source_must_exist(self, source, message):
        assert self.errors(source=source, source_name="nobody", label="spam")["source_name"] == [message]

    def test_the_campaign_detector_can_be_named_without_a_provider_row(self):
        """The README's `[context: campaigns] campaign.size >= 10` was refused ("No context provider is called
        'campaigns'"), which pushed admins to create a remote provider of that name, or leave the source
        unnamed, so that any provider's answer counted."""
        ScoreCondition(
            rule=factories.RoutingRuleFactory(),
            source=ScoreCondition.Source.CONTEXT,
            source_name="campaigns",
            label="campaign.size",
            threshold=10,
        ).full_clean()

    def test_named_sources_that_exist_are_accepted(self, vendor):
        Scorer.objects.create(name="Built-in text model", kind=Scorer.Kind.BUILTIN_TEXT)
        rule = factories.RoutingRuleFactory()
        for source, name in ((VENDOR, "acme"), (SCORER, "Built-in text model")):
            ScoreCondition(
                rule=rule, source=source, source_name=name, label="spam", threshold=0.5
            ).full_clean()

    def test_an_automated_rule_may_count_a_vendor_score_only_from_a_named_vendor(
        self, policies, remove, vendor
    ):
        rule = automated_rule(policies, remove, mode="shadow")
        assert "names the vendor" in self.errors(rule=rule, source=VENDOR, label="spam")["source_name"][0]
        ScoreCondition(rule=rule, source=VENDOR, source_name="acme", label="spam", threshold=0.5).full_clean()
        # Routing to a queue on any vendor's score stays possible: people decide those cases.
        ScoreCondition(
            rule=factories.RoutingRuleFactory(), source=VENDOR, label="spam", threshold=0.5
        ).full_clean()


class TestAdmin:
    def post_rule(self, admin_client, policies, remove, conditions, **fields):
        data = {
            "name": "auto remove",
            "position": 1,
            "state": "live",
            "languages": "",
            "priority_boost": 0,
            "automation_mode": "live",
            "auto_policy": policies["harassment"].pk,
            "auto_action": remove.pk,
            "score_conditions-TOTAL_FORMS": len(conditions),
            "score_conditions-INITIAL_FORMS": 0,
            **fields,
        }
        for n, condition in enumerate(conditions):
            for key, value in condition.items():
                data[f"score_conditions-{n}-{key}"] = value
        return admin_client.post("/admin/queues/routingrule/add/", data)

    def test_an_automated_rule_without_a_signal_condition_is_refused(self, admin_client, policies, remove):
        response = self.post_rule(admin_client, policies, remove, [])

        assert response.status_code == 200
        assert "An automatic decision needs at least one signal condition" in response.content.decode()
        assert not RoutingRule.objects.exists()

    def test_an_automated_rule_on_any_vendors_score_is_refused(self, admin_client, policies, remove):
        condition = {
            "source": VENDOR,
            "source_name": "",
            "label": "spam",
            "operator": "gte",
            "threshold": 0.9,
        }
        response = self.post_rule(admin_client, policies, remove, [condition])

        assert response.status_code == 200
        assert (
            "a vendor score may only count when the condition names the vendor" in response.content.decode()
        )
        assert not RoutingRule.objects.exists()

    def test_an_automated_rule_on_the_models_score_is_saved_and_listed_with_its_source(
        self, admin_client, policies, remove
    ):
        condition = {
            "source": SCORER,
            "source_name": "",
            "label": "profanity",
            "operator": "gte",
            "threshold": 0.9,
        }
        response = self.post_rule(admin_client, policies, remove, [condition])

        assert response.status_code == 302
        saved = RoutingRule.objects.get().score_conditions.get()
        assert (saved.source, saved.label) == (SCORER, "profanity")
        listing = admin_client.get("/admin/queues/routingrule/").content.decode()
        assert "[scorer] profanity ≥ 0.9" in listing

    def test_switching_a_rule_on_any_vendors_score_to_automatic_is_refused(
        self, admin_client, policies, remove, queues
    ):
        rule = factories.RoutingRuleFactory(name="any vendor says spam", target_queue=queues["harassment"])
        condition = factories.ScoreConditionFactory(rule=rule, source=VENDOR, label="spam", threshold=0.9)
        data = {
            "name": rule.name,
            "position": rule.position,
            "state": "live",
            "languages": "",
            "priority_boost": 0,
            "target_queue": queues["harassment"].pk,
            "automation_mode": "live",
            "auto_policy": policies["harassment"].pk,
            "auto_action": remove.pk,
            "score_conditions-TOTAL_FORMS": 1,
            "score_conditions-INITIAL_FORMS": 1,
            "score_conditions-0-id": condition.pk,
            "score_conditions-0-rule": rule.pk,
            "score_conditions-0-source": VENDOR,
            "score_conditions-0-source_name": "",
            "score_conditions-0-label": "spam",
            "score_conditions-0-operator": "gte",
            "score_conditions-0-threshold": 0.9,
        }

        response = admin_client.post(f"/admin/queues/routingrule/{rule.pk}/change/", data)

        assert response.status_code == 200
        assert "names the vendor" in response.content.decode()
        assert RoutingRule.objects.get(pk=rule.pk).automation_mode == "off"
