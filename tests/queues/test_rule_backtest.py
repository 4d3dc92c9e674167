"""Backtests replay a rule over a hand-built history with what each case showed when it was routed."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cases.models import Appeal, Case, Decision, Signal
from moderation.errors import Invalid
from queues.backtest import backtest_rule
from queues.models import snapshot_of
from queues.selectors import case_facts
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def rule(review_setup, queues):
    rule = factories.RoutingRuleFactory(
        name="toxic harassment",
        state="draft",
        target_queue=queues["harassment"],
        automation_mode="live",
        auto_policy=review_setup.policies["harassment"],
        auto_action=review_setup.actions["remove"],
    )
    factories.ScoreConditionFactory(rule=rule, label="toxicity", threshold=0.8)
    return rule


@pytest.fixture
def history(review_setup, vendor, now):
    """Eight cases with known signals at known times and what people later decided.

    A, B, H (yesterday), C, D (2 days ago), E, F (3 days ago), G (10 days ago: outside a 7-day backtest).
    """
    harassment = review_setup.policies["harassment"]
    actions = review_setup.actions
    agent = review_setup.agent

    def case(name, *, days_ago, scores=(), decided=None, protected=False):
        opened = now - timedelta(days=days_ago)
        routed = opened + timedelta(minutes=1)
        subject = factories.SubjectFactory(external_id=f"msg-{name}", is_protected=protected)
        made = factories.CaseFactory(subject=subject, policy=harassment)
        factories.ReportFactory(case=made, vendor=vendor, policy=harassment)
        Case.objects.filter(pk=made.pk).update(opened_at=opened, routed_at=routed)
        for score, minutes_after_routing in scores:
            signal = factories.SignalFactory(case=made, label="toxicity", score=score)
            Signal.objects.filter(pk=signal.pk).update(
                created_at=routed + timedelta(minutes=minutes_after_routing)
            )
        decision = None
        if decided:
            decision = factories.DecisionFactory(
                case=made, policy=harassment, action=actions[decided], decided_by=agent
            )
        return made, decision

    cases = {
        "A": case("A", days_ago=1, scores=[(0.9, -1)], decided="remove"),  # tp
        "B": case("B", days_ago=1, scores=[(0.9, -1)], decided="no-violation"),  # fp
        "H": case("H", days_ago=1, scores=[(0.9, -1)], decided="remove", protected=True),  # tp, protected
        "C": case("C", days_ago=2, scores=[(0.85, -1)], decided="remove"),  # overturned on appeal: fp
        # The strong signal arrived 30 minutes after routing: the rule could not have seen it → fn.
        "D": case("D", days_ago=2, scores=[(0.5, -1), (0.95, 30)], decided="remove"),
        "E": case("E", days_ago=3, scores=[(0.9, -1)]),  # nobody has judged it
        "F": case("F", days_ago=3, decided="no-violation"),  # tn
        "G": case("G", days_ago=10, scores=[(0.9, -1)], decided="remove"),  # outside the period
    }
    c_case, c_decision = cases["C"]
    appeal_case = factories.CaseFactory(subject=c_case.subject, policy=harassment, kind=Case.Kind.APPEAL)
    Appeal.objects.create(
        vendor=vendor,
        external_id="appeal-C",
        decision=c_decision,
        appeal_case=appeal_case,
        statement="it was a joke",
        payload_hash="x",
        state=Appeal.State.OVERTURNED,
    )
    return {name: made for name, (made, _) in cases.items()}


def day(now, days_ago):
    return (now - timedelta(days=days_ago)).date().isoformat()


def test_backtest_figures_against_the_hand_built_history(rule, history, now, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        result = backtest_rule(rule, days=7, now=now)

    assert result.cases == 7  # G is outside the period; the appeal case is not a report case
    assert result.matched == 5  # A, B, H, C, E
    assert (result.tp, result.fp, result.fn, result.unlabelled) == (2, 2, 1, 1)
    assert result.precision == 0.5
    assert result.recall == pytest.approx(2 / 3)
    assert result.per_day[day(now, 1)] == 3
    assert result.per_day[day(now, 2)] == 1
    assert result.per_day[day(now, 3)] == 1
    assert sum(result.per_day.values()) == 5
    assert result.decisions == {"harassment/remove": 4}  # H is protected: people decide it
    assert result.protected == 1 and result.queues == {"harassment": 1}
    assert result.automated_per_day == pytest.approx(4 / 7)


def test_the_query_count_does_not_grow_with_the_history(rule, history, now, django_assert_max_num_queries):
    for n in range(30):
        made = factories.CaseFactory(subject=factories.SubjectFactory(external_id=f"more-{n}"))
        factories.SignalFactory(case=made, label="toxicity", score=0.9)
        factories.DecisionFactory(case=made, action=factories.ActionFactory(code="remove"))
    with django_assert_max_num_queries(12):
        assert backtest_rule(rule, days=7, now=timezone.now()).cases == 37


def test_the_daily_cap_limits_the_estimate(rule, history, now):
    rule.max_automated_per_day = 1
    rule.save()
    # Yesterday: A and B would be decided (H is protected) → capped at 1; two other days have 1 each.
    assert backtest_rule(rule, days=7, now=now).automated_per_day == pytest.approx(3 / 7)


def test_a_proposed_snapshot_is_backtested_without_saving(rule, history, now):
    proposed = snapshot_of(rule) | {
        "conditions": [
            {"source": "scorer", "source_name": "", "label": "toxicity", "operator": "gte", "threshold": 0.88}
        ]
    }
    result = backtest_rule(proposed, days=7, now=now)
    assert result.matched == 4  # C (0.85) no longer matches
    assert rule.score_conditions.get().threshold == 0.8


def test_a_routing_only_rule_reports_where_it_would_have_sent_the_cases(rule, history, now, queues):
    rule.automation_mode = "off"
    rule.auto_policy = rule.auto_action = None
    rule.save()
    result = backtest_rule(rule, days=7, now=now)
    assert result.queues == {"harassment": 5}
    assert result.decisions == {} and result.automated_per_day == 0


def test_case_facts_as_of_leaves_out_later_signals(history, now):
    late = Case.objects.get(pk=history["D"].pk)
    assert case_facts(late).signals[("scorer", "toxicity")] == {"test": 0.95}
    assert case_facts(late, as_of=late.routed_at).signals[("scorer", "toxicity")] == {"test": 0.5}


@pytest.mark.parametrize("days", [0, -1, 10_000])
def test_an_impossible_period_names_the_field(rule, days):
    with pytest.raises(Invalid) as refused:
        backtest_rule(rule, days=days)
    assert refused.value.field == "days"


class TestCommand:
    def test_json_output(self, rule, history, capsys):
        call_command("backtest_rule", str(rule.pk), "--days", "7", "--json")
        figures = json.loads(capsys.readouterr().out)
        assert (figures["rule"], figures["matched"], figures["tp"], figures["fp"], figures["fn"]) == (
            rule.pk,
            5,
            2,
            2,
            1,
        )
        assert figures["precision"] == 0.5 and figures["decisions"] == {"harassment/remove": 4}

    def test_text_output(self, rule, history, capsys):
        call_command("backtest_rule", str(rule.pk), "--days", "7")
        out = capsys.readouterr().out
        assert "matched 5" in out and "precision 0.500 (tp 2, fp 2), recall 0.667 (fn 1)" in out

    def test_bad_input_is_a_command_error(self, rule):
        with pytest.raises(CommandError, match="days"):
            call_command("backtest_rule", str(rule.pk), "--days", "0")
        with pytest.raises(CommandError, match="rule_id"):
            call_command("backtest_rule", "999999")


def test_the_admin_backtest_page_shows_the_figures(rule, history, admin_client):
    response = admin_client.get(f"/admin/queues/routingrule/{rule.pk}/backtest/?days=7")
    page = response.content.decode()
    assert response.status_code == 200
    assert "tp 2, fp 2" in page and "fn 1" in page
    bad = admin_client.get(f"/admin/queues/routingrule/{rule.pk}/backtest/?days=lots")
    assert bad.status_code == 200 and "whole number" in bad.content.decode()
    assert Decision.objects.filter(automated=True).count() == 0


def test_the_admin_backtests_unsaved_changes_without_saving_them(rule, history, admin_client):
    condition = rule.score_conditions.get()
    form = {
        "name": rule.name,
        "position": rule.position,
        "state": "draft",
        "languages": "",
        "priority_boost": 0,
        "target_queue": rule.target_queue_id,
        "automation_mode": "live",
        "auto_policy": rule.auto_policy_id,
        "auto_action": rule.auto_action_id,
        "score_conditions-TOTAL_FORMS": 1,
        "score_conditions-INITIAL_FORMS": 1,
        "score_conditions-0-id": condition.pk,
        "score_conditions-0-rule": rule.pk,
        "score_conditions-0-source": "scorer",
        "score_conditions-0-source_name": "",
        "score_conditions-0-label": "toxicity",
        "score_conditions-0-operator": "gte",
        "score_conditions-0-threshold": "0.88",
        "_backtest_days": "7",
    }
    response = admin_client.post(f"/admin/queues/routingrule/{rule.pk}/backtest/", form)

    page = response.content.decode()
    assert response.status_code == 200 and "unsaved changes" in page
    assert "tp 2, fp 1" in page  # C (0.85) no longer matches under the draft threshold
    assert rule.score_conditions.get().threshold == 0.8
    assert not rule.versions.exists()
    broken = admin_client.post(
        f"/admin/queues/routingrule/{rule.pk}/backtest/", form | {"score_conditions-0-threshold": "nan"}
    )
    assert "Fix the form first" in broken.content.decode()


def test_a_velocity_rule_is_backtested_on_the_counters_as_they_stood_when_each_case_was_routed(
    review_setup, queues, vendor, now
):
    """Author `burst` had 3 reports in the hour before their case was routed; `quiet` had 1 then and 5
    more only after routing: the rule `author.reports_1h ≥ 3` would have matched the first case only."""
    from cases.models import Report

    rule = factories.RoutingRuleFactory(
        name="bursting author", state="draft", target_queue=queues["harassment"]
    )
    factories.ScoreConditionFactory(rule=rule, source="system", label="author.reports_1h", threshold=3)
    harassment = review_setup.policies["harassment"]

    def case_of(author, *, earlier_reports, later_reports):
        routed = now - timedelta(hours=5)
        subject = factories.SubjectFactory(author_id=author)
        made = factories.CaseFactory(subject=subject, policy=harassment)
        Case.objects.filter(pk=made.pk).update(opened_at=routed - timedelta(minutes=1), routed_at=routed)
        moments = [routed - timedelta(minutes=10 + n) for n in range(earlier_reports)]
        moments += [routed + timedelta(minutes=10 + n) for n in range(later_reports)]
        for moment in moments:
            report = factories.ReportFactory(case=made, subject=subject, vendor=vendor, policy=harassment)
            Report.objects.filter(pk=report.pk).update(received_at=moment)
        return made

    case_of("burst", earlier_reports=3, later_reports=0)
    case_of("quiet", earlier_reports=1, later_reports=5)

    result = backtest_rule(rule, days=1, now=now)

    assert (result.cases, result.matched) == (2, 1)
