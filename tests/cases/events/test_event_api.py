"""POST /api/v1/events: strict validation, idempotency per source, and the rules acting on events."""

import pytest

from cases.models import Case, Event, Report
from queues.models import RoutingRule, RuleMatch, ScoreCondition
from tests.cases.events.world import event_body, event_rule, scam_bank

URL = "/api/v1/events"


@pytest.fixture(autouse=True)
def _banks_reload_at_once(settings):
    settings.BANK_RELOAD_SECONDS = 0


def post(api, body):
    return api.post(URL, body, format="json")


def test_an_event_no_rule_matches_is_stored_and_opens_no_case(api, world):
    response = post(api, event_body(text="lovely weather today"))

    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "none" and response.json()["case_id"] is None
    assert Event.objects.get().bank_hits == 0
    assert not Case.objects.exists()


def test_an_event_a_rule_matches_opens_a_case_through_intake(api, vendor, world, review_setup):
    response = post(api, event_body(text="FREE  CRYPTO for everyone"))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "case_opened" and body["rule_id"] == world.pk
    case = Case.objects.get(pk=body["case_id"])
    report = Report.objects.get(case=case)
    assert (report.vendor, report.external_id, report.reason) == (vendor, "event:evt-1", "spam")
    assert case.subject.external_id == "msg-evt-1"
    assert RuleMatch.objects.filter(rule=world, case=case, outcome=RuleMatch.Outcome.ROUTED).exists()
    event = Event.objects.get()
    assert (event.bank_hits, event.case_id, event.rule_id) == (1, case.pk, world.pk)


def test_replaying_an_event_returns_what_came_of_it_and_acts_once(api, world):
    first = post(api, event_body(text="free crypto"))
    again = post(api, event_body(text="free crypto"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() | {"status": "duplicate"}
    assert Event.objects.count() == 1 and Case.objects.count() == 1 and Report.objects.count() == 1


def test_the_same_event_id_with_another_body_is_a_conflict(api, world):
    post(api, event_body(text="free crypto"))
    response = post(api, event_body(text="something else"))

    assert response.status_code == 409
    assert response.json()["fields"] == {"id": [response.json()["detail"]]}


def test_two_events_on_one_subject_share_its_one_open_case(api, world):
    first = post(api, event_body("evt-1", text="free crypto"))
    second = post(
        api,
        event_body(
            "evt-2",
            text="wire the fee",
            subject={
                "kind": "message",
                "external_id": "msg-evt-1",
                "author_id": "user-7",
                "text": "wire the fee",
            },
        ),
    )

    assert first.json()["case_id"] == second.json()["case_id"]
    assert Case.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"typo": 1}, "typo"),
        ({"type": "message.deleted"}, "type"),
        ({"id": 17}, "id"),
        ({"id": ""}, "id"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"subject": {"kind": "message", "external_id": "m", "colour": "red"}}, "subject.colour"),
        ({"type": "account.created"}, "subject.kind"),  # an account event about a message
        ({"subject": {"kind": "message", "external_id": "m", "text": 5}}, "subject.text"),
    ],
)
def test_a_bad_event_is_refused_naming_the_field(api, world, change, field):
    response = post(api, event_body() | change)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "validation_error"
    assert field in response.json()["fields"]
    assert not Event.objects.exists()


def test_a_batch_keeps_the_good_events_when_one_is_bad(api, world):
    response = post(api, {"events": [event_body("a", text="free crypto"), {"id": "b"}, event_body("c")]})

    assert response.status_code == 207
    results = response.json()["results"]
    assert [result["status"] for result in results] == ["created", "error", "created"]
    assert results[0]["outcome"] == "case_opened" and results[2]["outcome"] == "none"
    assert "type" in results[1]["fields"]
    assert response.json()["summary"] == {"created": 2, "duplicate": 0, "error": 1}


def test_a_batch_with_an_unknown_top_level_field_is_refused(api, world):
    response = post(api, {"events": [event_body()], "extra": True})

    assert response.status_code == 400 and "extra" in response.json()["fields"]


def test_events_need_a_vendor_token(client, world):
    response = client.post(URL, event_body(), content_type="application/json")

    assert response.status_code == 401


def test_a_shadow_state_rule_only_notes_its_match(api, review_setup):
    scam_bank()
    rule = event_rule(policy=review_setup.policies["spam"], state=RoutingRule.State.SHADOW)

    response = post(api, event_body(text="guaranteed returns"))

    assert response.json()["outcome"] == "none" and not Case.objects.exists()
    assert Event.objects.get().shadow_rule_ids == [rule.pk]


def test_an_event_trigger_limited_to_other_types_does_not_fire(api, review_setup):
    scam_bank()
    event_rule(policy=review_setup.policies["spam"], event_types=["profile.changed"])

    response = post(api, event_body(text="free crypto"))

    assert response.json()["outcome"] == "none" and not Case.objects.exists()


def test_the_author_counter_opens_a_case_on_the_third_event_in_an_hour(api, review_setup):
    rule = event_rule(
        policy=review_setup.policies["spam"],
        conditions=[(ScoreCondition.Source.SYSTEM, "event.author_events_1h", ScoreCondition.Operator.GTE, 3)],
    )

    outcomes = [post(api, event_body(f"e{n}", text=f"post {n}")).json()["outcome"] for n in range(4)]
    post(api, event_body("e1", text="post 1"))  # a replay counts nothing

    assert outcomes == ["none", "none", "case_opened", "case_opened"]
    assert Event.objects.filter(rule=rule).count() == 2


def test_another_vendors_events_never_raise_this_vendors_counter(api, other_api, review_setup):
    event_rule(
        policy=review_setup.policies["spam"],
        conditions=[(ScoreCondition.Source.SYSTEM, "event.author_events_1h", ScoreCondition.Operator.GTE, 3)],
    )
    for n in range(5):
        post(other_api, event_body(f"b{n}", text=f"post {n}"))  # vendor B: the same author, five times

    assert post(api, event_body("a1", text="mine")).json()["outcome"] == "none"  # vendor A's first


def test_an_event_id_another_vendor_used_tells_nothing_about_it(api, other_api, world):
    post(other_api, event_body("evt-shared", text="theirs"))

    response = post(api, event_body("evt-shared", text="mine"))

    assert response.status_code == 201  # neither a 409 nor a duplicate: ids are per vendor
    assert Event.objects.filter(external_id="evt-shared").count() == 2
