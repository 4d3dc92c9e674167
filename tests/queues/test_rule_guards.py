"""Blast-radius guards: the daily cap, protected subjects, and the surge auto-pause."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case, Decision
from cases.services.protection import set_subject_protection
from moderation.errors import Forbidden, Invalid
from moderation.models import AuditEvent
from queues import tasks
from queues.models import RoutingRule, RuleAutomationDay, RuleMatch
from queues.services import route_case
from queues.services.rule_guards import pause_surging_rules
from tests import factories

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="concurrent workers need PostgreSQL row locks"
)


@pytest.fixture
def auto_rule(review_setup):
    rule = factories.RoutingRuleFactory(
        name="auto-remove spam",
        automation_mode="live",
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
        max_automated_per_day=2,
    )
    factories.ScoreConditionFactory(rule=rule, label="spamminess", threshold=0.9)
    return rule


def spam_case(review_setup, vendor, **subject):
    case = factories.CaseFactory(
        subject=factories.SubjectFactory(**subject), policy=review_setup.policies["spam"]
    )
    factories.ReportFactory(case=case, vendor=vendor)
    factories.SignalFactory(case=case, label="spamminess", score=0.95)
    return case


class TestDailyCap:
    def test_matches_beyond_the_cap_go_to_people_and_are_logged_capped(self, review_setup, vendor, auto_rule):
        cases = [spam_case(review_setup, vendor) for _ in range(3)]

        outcomes = [route_case(case_id=case.pk) for case in cases]

        assert [outcome.auto_decided for outcome in outcomes] == [True, True, False]
        assert Decision.objects.filter(rule=auto_rule, automated=True, mode="live").count() == 2
        third = Case.objects.get(pk=cases[2].pk)
        assert (third.status, third.queue) == (Case.Status.OPEN, review_setup.queue)
        assert RuleMatch.objects.get(case=third).outcome == "capped"
        assert RuleAutomationDay.objects.get(rule=auto_rule).decided == 2

    def test_an_empty_cap_uses_the_platform_default(self, review_setup, vendor, auto_rule, settings):
        settings.RULE_DEFAULT_DAILY_CAP = 1
        RoutingRule.objects.filter(pk=auto_rule.pk).update(max_automated_per_day=None)
        first, second = spam_case(review_setup, vendor), spam_case(review_setup, vendor)
        assert route_case(case_id=first.pk).auto_decided
        assert not route_case(case_id=second.pk).auto_decided

    def test_the_cap_is_per_utc_day(self, review_setup, vendor, auto_rule):
        yesterday = timezone.now().date() - timedelta(days=1)
        RuleAutomationDay.objects.create(rule=auto_rule, day=yesterday, decided=2)
        assert route_case(case_id=spam_case(review_setup, vendor).pk).auto_decided


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_exceed_the_cap(review_setup, vendor, auto_rule):
    cases = [spam_case(review_setup, vendor) for _ in range(8)]
    barrier = threading.Barrier(len(cases))
    errors: list[BaseException] = []

    def work(case_id):
        try:
            barrier.wait(timeout=30)
            route_case(case_id=case_id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(case.pk,)) for case in cases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert Decision.objects.filter(rule=auto_rule, automated=True, mode="live").count() == 2
    assert RuleMatch.objects.filter(rule=auto_rule, outcome="capped").count() == 6
    assert RuleAutomationDay.objects.get(rule=auto_rule).decided == 2


class TestProtectedSubjects:
    def test_a_protected_subject_is_never_decided_automatically(self, review_setup, vendor, auto_rule):
        case = spam_case(review_setup, vendor, is_protected=True, protected_reason="head of state")

        outcome = route_case(case_id=case.pk)

        assert not outcome.auto_decided
        assert not Decision.objects.exists()
        case.refresh_from_db()
        assert (case.status, case.queue) == (Case.Status.OPEN, review_setup.queue)
        assert RuleMatch.objects.get(case=case).outcome == "protected"
        # The protected subject used no slot of the daily cap.
        assert not RuleAutomationDay.objects.filter(decided__gt=0).exists()

    def test_leads_mark_and_unmark_subjects_protected_with_a_reason_audited(self, review_setup):
        lead = factories.UserFactory(username="lead", is_superuser=True)
        subject = factories.SubjectFactory()

        assert (
            set_subject_protection(subject_ids=[subject.pk], protected=True, reason="partner", user=lead) == 1
        )
        subject.refresh_from_db()
        assert (subject.is_protected, subject.protected_reason) == (True, "partner")
        assert AuditEvent.objects.get(verb="subject.protected").data["reason"] == "partner"

        assert set_subject_protection(subject_ids=[subject.pk], protected=False, reason="", user=lead) == 1
        assert not type(subject).objects.get(pk=subject.pk).is_protected
        assert AuditEvent.objects.filter(verb="subject.unprotected").count() == 1

    def test_protecting_needs_a_reason_and_a_lead(self, review_setup):
        subject = factories.SubjectFactory()
        with pytest.raises(Invalid) as refused:
            set_subject_protection(
                subject_ids=[subject.pk],
                protected=True,
                reason="  ",
                user=factories.UserFactory(is_superuser=True),
            )
        assert refused.value.field == "reason"
        with pytest.raises(Forbidden):
            set_subject_protection(
                subject_ids=[subject.pk], protected=True, reason="x", user=review_setup.agent
            )
        assert not AuditEvent.objects.exists()

    def test_the_subject_admin_action_protects_with_the_reason(self, admin_client):
        subject = factories.SubjectFactory()
        response = admin_client.post(
            "/admin/cases/subject/",
            {"action": "protect", "_selected_action": [subject.pk], "reason": "news outlet", "index": 0},
        )
        assert response.status_code == 302
        subject.refresh_from_db()
        assert (subject.is_protected, subject.protected_reason) == (True, "news outlet")


class TestSurgeAutoPause:
    def matches(self, rule, *, count, at):
        case = factories.CaseFactory()
        RuleMatch.objects.bulk_create(
            RuleMatch(rule=rule, case=case, rule_version=n, mode="live", outcome="routed", matched_at=at)
            for n in range(count)
        )

    def test_a_surge_pauses_the_rule_audited_and_shown_to_leads(self, queues, client, settings):
        settings.RULE_SURGE_MIN_MATCHES = 20
        rule = factories.RoutingRuleFactory(name="toxic", target_queue=queues["harassment"])
        now = timezone.now()
        # 7 days x 24 h at 2 an hour = 336 in the baseline; 60 in the last hour is 30 x the baseline.
        self.matches(rule, count=336, at=now - timedelta(days=3))
        self.matches(rule, count=60, at=now - timedelta(minutes=10))

        paused = pause_surging_rules(now=now)

        assert [r.pk for r in paused] == [rule.pk]
        rule.refresh_from_db()
        assert rule.state == "paused" and rule.auto_paused_at is not None
        assert "60 matches in the last hour vs 2.0/h baseline" in rule.auto_pause_note
        event = AuditEvent.objects.get(verb="rule.auto_paused")
        assert event.actor_label == "rule-guard"
        assert rule.versions.get().changed_by_system == "rule-guard"
        lead = factories.UserFactory(username="lead", is_superuser=True)
        client.force_login(lead)
        page = client.get("/queues/").content.decode()
        assert "Rules paused automatically" in page and "60 matches in the last hour" in page

    def test_a_busy_but_steady_rule_is_not_paused(self, queues, settings):
        settings.RULE_SURGE_MIN_MATCHES = 20
        rule = factories.RoutingRuleFactory(name="busy", target_queue=queues["harassment"])
        now = timezone.now()
        self.matches(rule, count=7 * 24 * 40, at=now - timedelta(days=2))  # 40 an hour
        self.matches(rule, count=60, at=now - timedelta(minutes=5))  # 1.5 x baseline
        assert pause_surging_rules(now=now) == []
        assert RoutingRule.objects.get(pk=rule.pk).state == "live"

    def test_a_quiet_rule_under_the_floor_is_not_paused(self, queues, settings):
        settings.RULE_SURGE_MIN_MATCHES = 20
        rule = factories.RoutingRuleFactory(name="quiet", target_queue=queues["harassment"])
        self.matches(rule, count=12, at=timezone.now() - timedelta(minutes=5))  # no baseline at all
        assert tasks.pause_surging_rules.run() == 0
        assert RoutingRule.objects.get(pk=rule.pk).state == "live"

    def test_agents_do_not_see_the_alert(self, queues, agent_client, settings):
        rule = factories.RoutingRuleFactory(name="toxic", target_queue=queues["harassment"])
        RoutingRule.objects.filter(pk=rule.pk).update(
            state="paused", auto_paused_at=timezone.now(), auto_pause_note="Rule toxic paused automatically"
        )
        assert "Rules paused automatically" not in agent_client.get("/queues/").content.decode()


class TestStaleRuleCopies:
    """Workers cache the rules for CONFIG_CACHE_SECONDS; a change made in another process (a queryset
    update here: no save signal clears this process's cache) must stop a rule deciding at once."""

    def test_a_rule_paused_elsewhere_does_not_decide_from_a_cached_copy(
        self, review_setup, vendor, auto_rule
    ):
        from django.db.models import F

        from queues.selectors import active_rules

        assert auto_rule.pk in {rule.pk for rule in active_rules()}  # cached, live
        RoutingRule.objects.filter(pk=auto_rule.pk).update(state="paused", version=F("version") + 1)
        case = spam_case(review_setup, vendor)

        outcome = route_case(case_id=case.pk)

        assert not outcome.auto_decided
        assert not Decision.objects.filter(case=case).exists()
        assert Case.objects.get(pk=case.pk).queue == review_setup.queue  # people decide
        assert RuleAutomationDay.objects.get(rule=auto_rule).decided == 0

    def test_a_rule_changed_elsewhere_takes_no_slot_on_its_old_version(self, auto_rule):
        from queues.services.rule_guards import take_automation_slot

        stale = RoutingRule.objects.get(pk=auto_rule.pk)
        assert take_automation_slot(stale)
        RoutingRule.objects.filter(pk=auto_rule.pk).update(max_automated_per_day=0, version=stale.version + 1)

        assert not take_automation_slot(stale)  # its cached cap of 2 is no longer the rule's
        assert take_automation_slot(RoutingRule.objects.get(pk=auto_rule.pk)) is False  # the new cap: 0
        assert RuleAutomationDay.objects.get(rule=auto_rule).decided == 1
