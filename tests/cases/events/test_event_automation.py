"""Rules that act automatically on events go through the automated-decision path and its guards; events are
forgotten after their retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, Decision, Event
from cases.services.events import forget_old_events
from queues.models import RoutingRule, ScoreCondition
from tests import factories
from tests.cases.events.world import event_body, event_rule, scam_bank

URL = "/api/v1/events"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.BANK_RELOAD_SECONDS = 0
    settings.REVIEW_SAMPLE_RATE = 0.0  # no case drawn for review: every allowed automatic decision is taken


@pytest.fixture
def automated(review_setup):
    scam_bank()

    def build(mode):
        return event_rule(
            policy=None,
            target_queue=review_setup.queue,
            automation_mode=mode,
            auto_policy=review_setup.policies["spam"],
            auto_action=review_setup.actions["remove"],
        )

    return build


def test_a_live_automated_rule_decides_the_case_the_event_opens(api, automated):
    rule = automated(RoutingRule.AutomationMode.LIVE)

    body = api.post(URL, event_body(text="free crypto"), format="json").json()

    assert body["outcome"] == "decided"
    case = Case.objects.get(pk=body["case_id"])
    assert case.status == Case.Status.RESOLVED
    decision = Decision.objects.get(case=case, mode=Decision.Mode.LIVE)
    assert (decision.automated, decision.rule_id, decision.action.code) == (True, rule.pk, "remove")


def test_a_protected_subject_goes_to_people_however_sure_the_rule_is(api, automated):
    automated(RoutingRule.AutomationMode.LIVE)
    factories.SubjectFactory(kind="message", external_id="msg-evt-1", is_protected=True)

    body = api.post(URL, event_body(text="free crypto"), format="json").json()

    assert body["outcome"] == "case_opened"
    assert Case.objects.get(pk=body["case_id"]).status != Case.Status.RESOLVED
    assert not Decision.objects.exists()


def test_the_rules_daily_cap_sends_the_rest_to_people(api, automated):
    rule = automated(RoutingRule.AutomationMode.LIVE)
    rule.max_automated_per_day = 1
    rule.save()

    outcomes = [
        api.post(URL, event_body(f"e{n}", text="free crypto"), format="json").json()["outcome"]
        for n in range(2)
    ]

    assert outcomes == ["decided", "case_opened"]


def test_a_shadow_automated_rule_opens_the_case_and_records_what_it_would_decide(api, automated):
    rule = automated(RoutingRule.AutomationMode.SHADOW)

    body = api.post(URL, event_body(text="free crypto"), format="json").json()

    assert body["outcome"] == "shadow_decided"
    assert Case.objects.get(pk=body["case_id"]).status != Case.Status.RESOLVED
    shadow = Decision.objects.get(case_id=body["case_id"])
    assert (shadow.mode, shadow.rule_id) == (Decision.Mode.SHADOW, rule.pk)


def test_events_past_their_retention_are_forgotten_and_their_cases_kept(api, automated, settings):
    automated(RoutingRule.AutomationMode.OFF)
    settings.EVENT_RETENTION_DAYS = 30
    api.post(URL, event_body("old", text="free crypto"), format="json")
    api.post(URL, event_body("new", text="hello"), format="json")
    Event.objects.filter(external_id="old").update(received_at=timezone.now() - timedelta(days=31))

    assert forget_old_events() == 1
    assert list(Event.objects.values_list("external_id", flat=True)) == ["new"]
    assert Case.objects.count() == 1


# The event counters count what one source sent about an author it names: any vendor can raise its own.
COUNTER = [(ScoreCondition.Source.SYSTEM, "event.author_events_1h", ScoreCondition.Operator.GTE, 2)]


def _counter_rule(review_setup, **fields):
    return event_rule(
        policy=None,
        target_queue=review_setup.queue,
        automation_mode=RoutingRule.AutomationMode.LIVE,
        auto_policy=review_setup.policies["spam"],
        auto_action=review_setup.actions["remove"],
        conditions=COUNTER,
        **fields,
    )


def test_a_counter_any_vendor_can_raise_never_decides_automatically(other_api, review_setup):
    _counter_rule(review_setup)
    factories.SubjectFactory(kind="message", external_id="msg-target")  # content someone else reported

    outcomes = [
        other_api.post(
            URL,
            event_body(f"b{n}", author="user-7")
            | {
                "subject": {
                    "kind": "message",
                    "external_id": "msg-target",
                    "author_id": "user-7",
                    "text": "hi",
                }
            },
            format="json",
        ).json()["outcome"]
        for n in range(3)
    ]

    assert outcomes == ["none", "none", "none"]
    assert not Decision.objects.exists()


def test_a_counter_decides_on_a_rule_that_names_the_vendor(api, vendor, review_setup):
    rule = _counter_rule(review_setup)
    rule.vendors.set([vendor])

    outcomes = [api.post(URL, event_body(f"a{n}"), format="json").json()["outcome"] for n in range(2)]

    assert outcomes == ["none", "decided"]


def _report_on(api, subject_id: str, text: str) -> None:
    body = {
        "external_id": f"r-{subject_id}",
        "reason": "spam",
        "subject": {"kind": "message", "external_id": subject_id, "author_id": "user-7", "text": text},
    }
    assert api.post("/api/v1/reports", body, format="json").status_code == 201


def _event_on(subject_id: str, text: str, event_id: str = "b-1") -> dict:
    body = event_body(event_id)
    body["subject"] = {"kind": "message", "external_id": subject_id, "author_id": "user-7", "text": text}
    return body


def test_another_vendors_text_for_a_subject_never_decides_it_automatically(api, other_api, automated):
    automated(RoutingRule.AutomationMode.LIVE)
    _report_on(api, "msg-a", "see you at noon")  # vendor A's content: harmless

    body = other_api.post(URL, _event_on("msg-a", "free crypto"), format="json").json()

    assert body["outcome"] == "case_opened"  # for people, who see both texts
    assert not Decision.objects.exists()
    assert Case.objects.get(pk=body["case_id"]).subject.text == "see you at noon"


def test_another_vendors_event_with_the_same_text_is_decided(api, other_api, automated):
    automated(RoutingRule.AutomationMode.LIVE)
    _report_on(api, "msg-a", "free crypto")

    body = other_api.post(URL, _event_on("msg-a", "free crypto"), format="json").json()

    assert body["outcome"] == "decided"
