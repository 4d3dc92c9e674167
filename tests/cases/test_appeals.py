"""Appeals: a vendor files, on behalf of the affected user, an appeal of a decision on a case it reported on
(POST /api/v1/appeals); an agent who had no part in the decision upholds or overturns it from the appeal
case's page. Overturning sends the reversing enforcement (a real loopback platform here) and removes the
author's strike.

The original decision is made by `alice` (member of `general`). `bob` is a second member of `general` (the
confirmer under four eyes). `carol` is an uninvolved reviewer in `general` and `appeals`; `dave` works the
`appeals` queue only.
"""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from werkzeug import Response

from cases.models import Appeal, Case, Decision, Enforcement, Report, Strike
from cases.services import review
from cases.services.appeals import appeals_queue, file_appeal, resolve_appeal
from moderation.errors import Forbidden, NotFound
from moderation.models import AuditEvent, EnforcementEndpoint
from queues.models import Queue
from queues.services import claim_next_case
from tests import factories

# Every test runs through both claim-next implementations (`claim_path`, tests/conftest.py): PostgreSQL's
# one statement and the portable compare-and-set path, so the claim rules hold on both.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("claim_path")]

APPEALS = "/api/v1/appeals"
HX_MAIN = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "case-main"}
SECRET = "whsec-" + "5b1e9d3c" * 6  # 54 characters
PLATFORM_PATH = "/platform/enforcements"
STATEMENT = "I was quoting the message I received, not insulting anyone."


# --- people and cases -----------------------------------------------------------------------------------


def join_appeals(*users) -> Queue:
    """Make the users members of the appeals queue (created here if need be). Their memoised queue ids (set
    on the user object by any earlier visibility check) are dropped so the membership counts at once."""
    queue = appeals_queue()
    for user in users:
        queue.members.add(user)
        user.__dict__.pop("_queue_access", None)
    return queue


@pytest.fixture
def alice(review_setup):
    return review_setup.agent


@pytest.fixture
def carol(review_setup):
    user = factories.UserFactory(username="carol")
    review_setup.queue.members.add(user)
    join_appeals(user)
    return user


@pytest.fixture
def dave(review_setup):
    user = factories.UserFactory(username="dave")
    join_appeals(user)
    return user


def reported_case(review_setup, vendor, *, external_id="msg-1", policy="harassment") -> Case:
    """An open case in `general` on a message by `author-9`, with one report from `vendor`."""
    case = factories.OpenCaseFactory(
        queue=review_setup.queue,
        policy=review_setup.policies[policy],
        subject__external_id=external_id,
        subject__author_id="author-9",
    )
    factories.ReportFactory(case=case, vendor=vendor, policy=case.policy)
    return case


def decide(case, user, review_setup, *, action="remove", reason="Insulting another user.") -> Decision:
    """`user` decides `case`, holding it first as the agent working it does."""
    factories.hold(case, user)
    return review.record_decision(
        case_id=case.pk,
        user=user,
        policy_id=case.policy_id,
        action_id=review_setup.actions[action].pk,
        reason=reason,
        expected_version=None,
    )


@pytest.fixture
def decision(review_setup, vendor, alice) -> Decision:
    """Alice's final `remove` on a harassment case `vendor` reported on: enforced, the author has a strike."""
    decision = decide(reported_case(review_setup, vendor), alice, review_setup)
    assert decision.review_state == Decision.ReviewState.FINAL
    assert Strike.objects.filter(decision=decision, removed_at__isnull=True).exists()
    return decision


@pytest.fixture
def four_eyes(review_setup):
    policy = review_setup.policies["child-safety"]
    policy.requires_second_review = True
    policy.save()
    return policy


@pytest.fixture
def confirmed(review_setup, vendor, alice, bob, four_eyes) -> Decision:
    """Alice's `remove` under a four-eyes policy, confirmed by bob."""
    case = reported_case(review_setup, vendor, external_id="msg-4e", policy="child-safety")
    pending = decide(case, alice, review_setup)
    assert pending.review_state == Decision.ReviewState.PENDING
    factories.hold(case, bob)
    review.confirm_decision(case_id=case.pk, user=bob, expected_version=Case.objects.get(pk=case.pk).version)
    pending.refresh_from_db()
    assert (pending.review_state, pending.reviewed_by) == (Decision.ReviewState.CONFIRMED, bob)
    return pending


def appeal_body(decision, **overrides) -> dict:
    return {
        "external_id": "ap-1",
        "decision_id": decision.pk,
        "statement": STATEMENT,
        "appellant_id": "author-9",
    } | overrides


def post_appeal(client, body):
    return client.post(APPEALS, body, format="json")


@pytest.fixture
def appeal(api, decision) -> Appeal:
    response = post_appeal(api, appeal_body(decision))
    assert response.status_code == 201, response.json()
    return Appeal.objects.select_related("appeal_case").get(pk=response.json()["id"])


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


def audit(verb: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb=verb, **filters).order_by("id"))


def moved_on(appeal) -> int:
    """The appeal case changes after the reviewer loaded it (version bumped); the version they saw."""
    seen = fresh(appeal.appeal_case).version
    Case.objects.filter(pk=appeal.appeal_case_id).update(version=F("version") + 1)
    return seen


def resolve(appeal, user, outcome, *, reason="", version="current", holding=True) -> Appeal:
    """`user` resolves the appeal, holding its case first as a reviewer does (`holding=False`: as it stands)."""
    if holding:
        factories.hold(appeal.appeal_case, user)
    case = fresh(appeal.appeal_case)
    return resolve_appeal(
        case_id=case.pk,
        user=user,
        outcome=outcome,
        reason=reason,
        expected_version=case.version if version == "current" else version,
    )


# --- filing an appeal through the API -------------------------------------------------------------------


def test_a_reporting_vendor_appeals_an_enforcing_decision_and_gets_201_with_the_open_appeal(api, decision):
    response = post_appeal(api, appeal_body(decision))

    assert response.status_code == 201
    body = response.json()
    appeal = Appeal.objects.get()
    assert body["id"] == appeal.pk
    assert body["case_id"] == appeal.appeal_case_id
    assert body["status"] == "open"
    assert body["decision_id"] == decision.pk and body["external_id"] == "ap-1"
    assert body["decided_at"] is None and body["outcome_reason"] == ""
    assert (appeal.statement, appeal.appellant_id) == (STATEMENT, "author-9")


def test_filing_opens_a_routed_appeal_case_on_the_same_subject_in_the_appeals_queue_that_exists_from_the_start(
    api, decision
):
    # The appeals queue is made by a migration, open (not restricted), with the Leads team as members.
    queue = Queue.objects.get(slug="appeals")
    assert not queue.is_restricted
    assert list(queue.member_groups.values_list("name", flat=True)) == ["Leads"]
    before = timezone.now()

    response = post_appeal(api, appeal_body(decision))

    case = Case.objects.get(pk=response.json()["case_id"])
    assert Queue.objects.filter(slug="appeals").count() == 1
    assert case.kind == Case.Kind.APPEAL
    assert case.queue == queue and queue.is_active and queue.sla_hours == 72
    assert case.status == Case.Status.OPEN and case.assignee is None
    assert case.subject_id == decision.case.subject_id
    assert case.pk != decision.case_id
    assert case.policy_id == decision.policy_id
    assert case.routed_at is not None and case.routed_at >= before
    assert before + timedelta(hours=72) <= case.sla_due_at <= timezone.now() + timedelta(hours=72)
    assert case.priority > 0
    assert Report.objects.filter(case=case).count() == 0


def test_filing_is_audited_as_appeal_filed_by_the_vendor(api, vendor, decision):
    response = post_appeal(api, appeal_body(decision))

    (event,) = audit("appeal.filed")
    assert event.case_id == response.json()["case_id"]
    assert (event.actor_type, event.actor_id) == (AuditEvent.ActorType.VENDOR, str(vendor.pk))
    assert event.target_id == str(response.json()["id"])
    assert event.data == {"decision": decision.pk, "original_case": decision.case_id}


def test_a_replay_with_the_same_external_id_and_body_answers_200_with_the_same_appeal_and_creates_nothing(
    api, decision, appeal
):
    cases_before = Case.objects.count()

    response = post_appeal(api, appeal_body(decision))

    assert response.status_code == 200
    assert response.json()["id"] == appeal.pk
    assert response.json()["case_id"] == appeal.appeal_case_id
    assert Appeal.objects.count() == 1
    assert Case.objects.count() == cases_before
    assert len(audit("appeal.filed")) == 1


def test_the_same_external_id_with_another_statement_is_a_409_naming_external_id_with_the_existing_id(
    api, decision, appeal
):
    response = post_appeal(api, appeal_body(decision, statement="A different story."))

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict" and body["detail"]
    assert list(body["fields"]) == ["external_id"]
    assert body["existing"] == {"id": appeal.pk}
    assert Appeal.objects.get().statement == STATEMENT


def test_a_second_appeal_of_the_same_decision_under_another_external_id_is_a_409(api, decision, appeal):
    cases_before = Case.objects.count()

    response = post_appeal(api, appeal_body(decision, external_id="ap-2"))

    assert response.status_code == 409
    body = response.json()
    assert "decision_id" in body["fields"]
    assert body["existing"] == {"id": appeal.pk}
    assert Appeal.objects.count() == 1
    assert Case.objects.count() == cases_before


def test_a_decision_on_a_case_the_vendor_did_not_report_on_answers_404(other_api, decision):
    response = post_appeal(other_api, appeal_body(decision))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert not Appeal.objects.exists()
    assert not Case.objects.filter(kind=Case.Kind.APPEAL).exists()


def test_a_decision_that_does_not_exist_answers_404(api, decision):
    response = post_appeal(api, appeal_body(decision, decision_id=decision.pk + 1000))

    assert response.status_code == 404
    assert not Appeal.objects.exists()


def test_a_no_violation_decision_cannot_be_appealed(api, review_setup, vendor, alice):
    dismissed = decide(reported_case(review_setup, vendor), alice, review_setup, action="no-violation")

    response = post_appeal(api, appeal_body(dismissed))

    assert response.status_code == 409
    assert "decision_id" in response.json()["fields"]
    assert not Appeal.objects.exists()


def test_a_shadow_decision_cannot_be_appealed_and_is_not_disclosed(api, review_setup, vendor):
    # Shadow verdicts are never enforced or shown to vendors: the API answers as for an unknown decision.
    case = reported_case(review_setup, vendor)
    shadow = factories.DecisionFactory(
        case=case, policy=case.policy, action=review_setup.actions["remove"], mode=Decision.Mode.SHADOW
    )

    response = post_appeal(api, appeal_body(shadow))

    assert response.status_code == 404
    assert not Appeal.objects.exists()
    assert not Case.objects.filter(kind=Case.Kind.APPEAL).exists()


def test_a_decision_still_awaiting_its_second_review_cannot_be_appealed(
    api, review_setup, vendor, alice, four_eyes
):
    pending = decide(reported_case(review_setup, vendor, policy="child-safety"), alice, review_setup)
    assert pending.review_state == Decision.ReviewState.PENDING

    response = post_appeal(api, appeal_body(pending))

    assert response.status_code == 409
    assert "decision_id" in response.json()["fields"]
    assert not Appeal.objects.exists()


def test_a_decision_overturned_under_second_review_cannot_be_appealed(
    api, review_setup, vendor, alice, bob, four_eyes
):
    case = reported_case(review_setup, vendor, policy="child-safety")
    pending = decide(case, alice, review_setup)
    decide(case, bob, review_setup, action="warn")
    pending.refresh_from_db()
    assert pending.review_state == Decision.ReviewState.OVERTURNED

    response = post_appeal(api, appeal_body(pending))

    assert response.status_code == 409
    assert not Appeal.objects.exists()


def test_a_decision_confirmed_under_second_review_can_be_appealed(api, confirmed):
    response = post_appeal(api, appeal_body(confirmed))

    assert response.status_code == 201
    assert Appeal.objects.get().decision == confirmed


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"extra": "x"}, "extra"),
        ({"statement": 123}, "statement"),
        ({"statement": None}, "statement"),
        ({"statement": ["I did nothing"]}, "statement"),
        ({"statement": ""}, "statement"),
        ({"statement": "   \n\t "}, "statement"),
        ({"statement": "x" * 10_001}, "statement"),
        ({"statement": "innocent\x00"}, "statement"),
        ({"decision_id": True}, "decision_id"),
        ({"decision_id": "DECISION"}, "decision_id"),
        ({"decision_id": "1"}, "decision_id"),
        ({"decision_id": -1}, "decision_id"),
        ({"decision_id": 0}, "decision_id"),
        ({"decision_id": 1.0}, "decision_id"),
        ({"decision_id": 2**63}, "decision_id"),
        ({"decision_id": 10**30}, "decision_id"),
        ({"decision_id": None}, "decision_id"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": 42}, "external_id"),
        ({"external_id": "e" * 201}, "external_id"),
        ({"appellant_id": 9}, "appellant_id"),
        ({"appellant_id": "a" * 256}, "appellant_id"),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, dict) else value,
)
def test_invalid_input_is_a_400_naming_the_field_and_files_nothing(api, decision, overrides, field):
    response = post_appeal(api, appeal_body(decision, **overrides))

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert field in body["fields"], body
    assert field in body["detail"]
    assert not Appeal.objects.exists()
    assert not Case.objects.filter(kind=Case.Kind.APPEAL).exists()


def test_a_missing_decision_id_is_a_400_naming_it(api, decision):
    body = appeal_body(decision)
    del body["decision_id"]

    response = post_appeal(api, body)

    assert response.status_code == 400
    assert "decision_id" in response.json()["fields"]


def test_every_bad_field_is_named_at_once(api, decision):
    response = post_appeal(api, {"decision_id": "x", "statement": 1, "unknown": True})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"decision_id", "statement", "unknown", "external_id"}


def test_a_body_that_is_not_an_object_is_a_400(api, decision):
    response = post_appeal(api, [appeal_body(decision)])

    assert response.status_code == 400
    assert not Appeal.objects.exists()


def test_a_statement_of_exactly_the_maximum_length_is_accepted_verbatim(api, decision):
    statement = "  " + "y" * 9_996 + "  "

    response = post_appeal(api, appeal_body(decision, statement=statement))

    assert response.status_code == 201
    assert Appeal.objects.get().statement == statement


def test_filing_without_a_token_is_401(decision, policies):
    response = post_appeal(APIClient(), appeal_body(decision))

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert not Appeal.objects.exists()


def test_reading_an_appeal_without_a_token_is_401(appeal):
    assert APIClient().get(f"{APPEALS}/{appeal.pk}").status_code == 401


def test_the_filing_vendor_reads_the_open_appeal(api, appeal, decision):
    response = api.get(f"{APPEALS}/{appeal.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == appeal.pk and body["case_id"] == appeal.appeal_case_id
    assert body["decision_id"] == decision.pk and body["external_id"] == "ap-1"
    assert body["status"] == "open" and body["decided_at"] is None
    assert body["filed_at"]


def test_another_vendor_cannot_read_the_appeal(other_api, appeal):
    response = other_api.get(f"{APPEALS}/{appeal.pk}")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("appeal_id", ["0", "999999", "99999999999999999999999"])
def test_reading_an_appeal_that_does_not_exist_is_404(api, appeal, appeal_id):
    assert api.get(f"{APPEALS}/{appeal_id}").status_code == 404


def test_the_appeals_queue_slug_comes_from_settings(api, decision, settings):
    settings.APPEALS_QUEUE_SLUG = "second-look"

    response = post_appeal(api, appeal_body(decision))

    assert Case.objects.get(pk=response.json()["case_id"]).queue.slug == "second-look"


def test_the_service_refuses_without_an_http_layer_too(vendor, other_vendor, decision):
    with pytest.raises(NotFound) as refused:
        file_appeal(vendor=other_vendor, external_id="x", decision_id=decision.pk, statement="s")

    assert refused.value.field == "decision_id"
    filed = file_appeal(vendor=vendor, external_id="x", decision_id=decision.pk, statement="s")
    again = file_appeal(vendor=vendor, external_id="x", decision_id=decision.pk, statement="s")
    assert filed.created and not again.created and again.appeal.pk == filed.appeal.pk


# --- appeals and intake on the same subject -------------------------------------------------------------


def test_a_new_report_while_an_appeal_case_is_open_goes_to_a_report_case(api, appeal, report_body):
    response = api.post("/api/v1/reports", report_body(external_id="r-after-appeal"), format="json")

    assert response.status_code == 201, response.json()
    report = Report.objects.get(pk=response.json()["id"])
    assert report.subject_id == appeal.appeal_case.subject_id  # the same message (msg-1)
    assert report.case.kind == Case.Kind.REPORT
    assert report.case_id not in (appeal.appeal_case_id, appeal.decision.case_id)
    assert report.case.status != Case.Status.RESOLVED
    appeal_case = fresh(appeal.appeal_case)
    assert appeal_case.report_count == 0 and not appeal_case.reports.exists()
    assert appeal_case.status == Case.Status.OPEN and appeal_case.kind == Case.Kind.APPEAL


def test_an_appeal_can_be_filed_while_a_report_case_is_open_on_the_subject(api, decision, report_body):
    reported = api.post("/api/v1/reports", report_body(external_id="r-new"), format="json")
    new_case = Case.objects.get(pk=reported.json()["case_id"])
    assert new_case.subject_id == decision.case.subject_id and new_case.is_open

    response = post_appeal(api, appeal_body(decision))

    assert response.status_code == 201
    open_cases = Case.objects.filter(subject_id=decision.case.subject_id).exclude(status=Case.Status.RESOLVED)
    assert sorted(open_cases.values_list("kind", flat=True)) == ["appeal", "report"]
    assert fresh(new_case).kind == Case.Kind.REPORT and fresh(new_case).is_open


def test_a_later_decision_on_the_same_subject_can_be_appealed_while_the_first_appeal_is_open(
    api, review_setup, vendor, alice, decision, appeal
):
    # A new report case on the same message, decided again: a different decision in force, which the user
    # may appeal too. Only the same decision (or the same external_id) may be refused with 409.
    later_case = factories.OpenCaseFactory(
        queue=review_setup.queue, policy=decision.policy, subject=decision.case.subject
    )
    factories.ReportFactory(case=later_case, vendor=vendor, policy=decision.policy)
    later = decide(later_case, alice, review_setup, action="warn")

    response = post_appeal(api, appeal_body(later, external_id="ap-later"))

    assert response.status_code == 201, response.json()
    assert Appeal.objects.filter(decision=later).exists()


# --- resolving: uphold and overturn ---------------------------------------------------------------------


def test_upholding_resolves_the_appeal_case_and_keeps_the_decision_in_force(appeal, carol, decision):
    resolved = resolve(appeal, carol, Appeal.State.UPHELD, reason="The message was an insult.")

    resolved.refresh_from_db()
    assert resolved.state == Appeal.State.UPHELD
    assert resolved.outcome_reason == "The message was an insult."
    assert resolved.resolved_by == carol and resolved.resolved_at is not None
    case = fresh(appeal.appeal_case)
    assert case.status == Case.Status.RESOLVED and case.resolved_at is not None
    assert case.assignee is None
    assert not Enforcement.objects.filter(kind=Enforcement.Kind.REVERSE).exists()
    strike = Strike.objects.get(decision=decision)
    assert strike.removed_at is None and strike.is_active(timezone.now())
    decision.refresh_from_db()
    assert decision.review_state == Decision.ReviewState.FINAL


def test_upholding_is_audited_as_appeal_upheld(appeal, carol, decision):
    resolve(appeal, carol, Appeal.State.UPHELD)

    (event,) = audit("appeal.upheld")
    assert event.case_id == appeal.appeal_case_id
    assert (event.actor_type, event.actor_id) == (AuditEvent.ActorType.USER, str(carol.pk))
    assert event.data == {"decision": decision.pk, "original_case": decision.case_id}
    assert not audit("appeal.overturned")


def test_the_vendor_reads_the_upheld_outcome_with_its_reason(api, appeal, carol):
    resolve(appeal, carol, Appeal.State.UPHELD, reason="Rules apply to quotes too.")

    body = api.get(f"{APPEALS}/{appeal.pk}").json()

    assert body["status"] == "upheld"
    assert body["outcome_reason"] == "Rules apply to quotes too."
    assert body["decided_at"] is not None


def test_overturning_creates_the_reversing_enforcement_of_the_decision(appeal, carol, decision):
    resolve(appeal, carol, Appeal.State.OVERTURNED, reason="Quoting is allowed.")

    reverse_enf = Enforcement.objects.get(decision=decision, kind=Enforcement.Kind.REVERSE)
    assert reverse_enf.idempotency_key == f"enf_{decision.pk}_reverse"
    assert reverse_enf.case_id == decision.case_id
    assert reverse_enf.payload["type"] == "enforcement.reverse"
    assert reverse_enf.payload["id"] == reverse_enf.idempotency_key
    assert reverse_enf.payload["decision"]["id"] == decision.pk
    assert reverse_enf.payload["decision"]["action"] == "remove"
    assert reverse_enf.payload["subject"]["external_id"] == "msg-1"
    # The apply enforcement of the decision is still there, untouched.
    assert Enforcement.objects.filter(decision=decision, kind=Enforcement.Kind.APPLY).count() == 1


def test_overturning_removes_the_authors_strike_and_resolves_the_appeal(appeal, carol, decision):
    resolve(appeal, carol, Appeal.State.OVERTURNED, reason="Quoting is allowed.")

    strike = Strike.objects.get(decision=decision)
    assert strike.removed_at is not None
    assert str(appeal.pk) in strike.removed_reason
    assert not strike.is_active(timezone.now())
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OVERTURNED and appeal.resolved_by == carol
    assert fresh(appeal.appeal_case).status == Case.Status.RESOLVED


def test_overturning_is_audited_as_appeal_overturned(api, appeal, carol, decision):
    resolve(appeal, carol, Appeal.State.OVERTURNED, reason="Quoting is allowed.")

    (event,) = audit("appeal.overturned")
    assert event.case_id == appeal.appeal_case_id
    assert event.actor_id == str(carol.pk)
    assert event.data == {"decision": decision.pk, "original_case": decision.case_id}
    body = api.get(f"{APPEALS}/{appeal.pk}").json()
    assert (body["status"], body["outcome_reason"]) == ("overturned", "Quoting is allowed.")


@pytest.fixture
def platform(httpserver, settings):
    """The platform's enforcement endpoint on loopback: records each request and answers 200."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    received = []

    def handle(request):
        received.append((dict(request.headers), json.loads(request.get_data())))
        return Response(b'{"ok": true}', status=200, content_type="application/json")

    httpserver.expect_request(PLATFORM_PATH, method="POST").respond_with_handler(handle)
    EnforcementEndpoint.objects.create(
        name="platform",
        url=f"http://127.0.0.1:{httpserver.port}{PLATFORM_PATH}",
        secret=SECRET,
        is_active=True,
        timeout_seconds=5.0,
    )
    return received


def test_overturning_delivers_the_reverse_enforcement_to_the_platform_on_commit(
    platform, appeal, carol, decision, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        resolve(appeal, carol, Appeal.State.OVERTURNED, reason="Quoting is allowed.")

    assert len(callbacks) == 1
    ((headers, body),) = platform  # only the reversal: the original apply was never sent in this test
    reverse_enf = Enforcement.objects.get(decision=decision, kind=Enforcement.Kind.REVERSE)
    assert reverse_enf.state == Enforcement.State.DELIVERED and reverse_enf.attempts == 1
    assert reverse_enf.last_status == 200
    assert headers["Idempotency-Key"] == f"enf_{decision.pk}_reverse"
    assert headers["X-Moderation-Event"] == "enforcement.reverse"
    assert headers["X-Moderation-Signature"].startswith("v1=")
    assert body["type"] == "enforcement.reverse"
    assert body["id"] == f"enf_{decision.pk}_reverse"
    assert body["decision"]["id"] == decision.pk
    assert body["subject"] == {
        "kind": "message",
        "external_id": "msg-1",
        "author_id": "author-9",
        "content_version": 1,  # the version the decision was taken on
    }
    assert audit("enforcement.delivered", case_id=decision.case_id)


def test_upholding_sends_nothing_to_the_platform(platform, appeal, carol, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        resolve(appeal, carol, Appeal.State.UPHELD)

    assert callbacks == [] and platform == []


# --- who may resolve ------------------------------------------------------------------------------------


def test_the_agent_who_made_the_decision_cannot_resolve_its_appeal(appeal, alice):
    join_appeals(alice)

    with pytest.raises(Forbidden) as refused:
        resolve(appeal, alice, Appeal.State.OVERTURNED)

    assert "another agent" in refused.value.message
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN
    assert fresh(appeal.appeal_case).status == Case.Status.OPEN
    assert not Enforcement.objects.filter(kind=Enforcement.Kind.REVERSE).exists()
    assert Strike.objects.get(decision=appeal.decision).removed_at is None
    assert not audit("appeal.overturned")


def test_the_agent_who_confirmed_the_decision_cannot_resolve_its_appeal(api, confirmed, bob):
    filed = post_appeal(api, appeal_body(confirmed))
    appeal = Appeal.objects.select_related("appeal_case").get(pk=filed.json()["id"])
    join_appeals(bob)

    with pytest.raises(Forbidden):
        resolve(appeal, bob, Appeal.State.UPHELD)

    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def test_the_first_decider_of_a_confirmed_decision_cannot_resolve_its_appeal_either(api, confirmed, alice):
    filed = post_appeal(api, appeal_body(confirmed))
    appeal = Appeal.objects.select_related("appeal_case").get(pk=filed.json()["id"])
    join_appeals(alice)

    with pytest.raises(Forbidden):
        resolve(appeal, alice, Appeal.State.OVERTURNED)


def test_a_reviewer_outside_the_appeals_queue_cannot_see_the_appeal_case(appeal, bob):
    with pytest.raises(review.CaseNotVisible):
        resolve(appeal, bob, Appeal.State.OVERTURNED, holding=False)

    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def test_resolving_twice_is_a_conflict_and_changes_nothing(appeal, carol, dave):
    resolve(appeal, carol, Appeal.State.UPHELD, reason="Stands.")

    with pytest.raises(review.CaseConflict):  # a resolved case is not claimable: dave only has it open
        resolve(appeal, dave, Appeal.State.OVERTURNED, reason="Overturn!", holding=False)

    appeal.refresh_from_db()
    assert (appeal.state, appeal.resolved_by, appeal.outcome_reason) == (
        Appeal.State.UPHELD,
        carol,
        "Stands.",
    )
    assert not Enforcement.objects.filter(kind=Enforcement.Kind.REVERSE).exists()
    assert Strike.objects.get(decision=appeal.decision).removed_at is None


def test_a_stale_version_is_a_conflict_and_changes_nothing(appeal, carol):
    stale = moved_on(appeal)

    with pytest.raises(review.CaseConflict):
        resolve(appeal, carol, Appeal.State.OVERTURNED, version=stale)

    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN
    assert fresh(appeal.appeal_case).status == Case.Status.OPEN
    assert not Enforcement.objects.filter(kind=Enforcement.Kind.REVERSE).exists()


def test_an_appeal_case_held_by_another_reviewer_is_a_conflict(appeal, carol, dave):
    claimed = claim_next_case(user=dave, queue=appeals_queue())
    assert claimed.pk == appeal.appeal_case_id

    with pytest.raises(review.CaseConflict) as conflict:
        resolve(appeal, carol, Appeal.State.OVERTURNED, holding=False)

    assert conflict.value.message == "dave is reviewing this case now."
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def test_a_reviewer_must_hold_the_appeal_case_to_resolve_it(appeal, carol):
    with pytest.raises(review.CaseConflict) as conflict:
        resolve(appeal, carol, Appeal.State.OVERTURNED, holding=False)

    assert "Claim this case before deciding it" in conflict.value.message
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN
    assert not Enforcement.objects.filter(kind=Enforcement.Kind.REVERSE).exists()


@pytest.mark.parametrize("outcome", ["", "uphold", "overturn", "open", "OVERTURNED"])
def test_an_outcome_other_than_upheld_or_overturned_is_refused(appeal, carol, outcome):
    with pytest.raises(review.ReviewError) as refused:
        resolve(appeal, carol, outcome)

    assert refused.value.field == "outcome"
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def test_a_reason_with_nul_is_refused(appeal, carol):
    with pytest.raises(review.ReviewError) as refused:
        resolve(appeal, carol, Appeal.State.UPHELD, reason="bad\x00reason")

    assert refused.value.field == "reason"


def test_record_decision_refuses_an_appeal_case(appeal, carol, review_setup):
    case = factories.hold(fresh(appeal.appeal_case), carol)

    with pytest.raises(review.ReviewError):
        review.record_decision(
            case_id=case.pk,
            user=carol,
            policy_id=case.policy_id,
            action_id=review_setup.actions["warn"].pk,
            expected_version=case.version,
        )

    assert not Decision.objects.filter(case=case).exists()
    assert fresh(case).status == Case.Status.OPEN


def test_resolve_appeal_refuses_a_report_case(carol, review_setup, vendor):
    case = reported_case(review_setup, vendor, external_id="msg-other")

    with pytest.raises(review.ReviewError):
        resolve_appeal(
            case_id=case.pk, user=carol, outcome="overturned", reason="", expected_version=case.version
        )

    assert fresh(case).status == Case.Status.OPEN


# --- claim-next on the appeals queue (both the one-statement PostgreSQL path and the portable one) -------
# (`claim_path`: tests/conftest.py)


def test_claim_next_never_offers_an_appeal_to_the_agent_who_made_the_decision(
    claim_path, appeal, alice, carol
):
    queue = join_appeals(alice)

    assert claim_next_case(user=alice, queue=queue) is None
    offered = claim_next_case(user=carol, queue=queue)
    assert offered is not None and offered.pk == appeal.appeal_case_id
    assert offered.assignee_id == carol.pk and offered.status == Case.Status.IN_REVIEW


def test_claim_next_never_offers_an_appeal_to_the_agent_who_confirmed_the_decision(
    claim_path, api, confirmed, alice, bob, dave
):
    filed = post_appeal(api, appeal_body(confirmed))
    queue = join_appeals(alice, bob)

    assert claim_next_case(user=bob, queue=queue) is None
    assert claim_next_case(user=alice, queue=queue) is None
    offered = claim_next_case(user=dave, queue=queue)
    assert offered is not None and offered.pk == filed.json()["case_id"]


def test_claim_next_offers_each_agent_the_appeals_they_had_no_part_in(
    claim_path, api, review_setup, vendor, alice, bob, appeal
):
    # Alice's decision is under `appeal` (the higher priority); bob's decision under another, lower one.
    bobs = decide(reported_case(review_setup, vendor, external_id="msg-bob"), bob, review_setup)
    other = post_appeal(api, appeal_body(bobs, external_id="ap-bob")).json()
    Case.objects.filter(pk=other["case_id"]).update(priority=1.0)
    queue = join_appeals(alice, bob)

    alices = claim_next_case(user=alice, queue=queue)
    bobs_claim = claim_next_case(user=bob, queue=queue)

    assert alices is not None and alices.pk == other["case_id"]
    assert bobs_claim is not None and bobs_claim.pk == appeal.appeal_case_id


# --- the appeal case page -------------------------------------------------------------------------------


HOSTILE_STATEMENT = "<script>alert('appeal')</script> I never wrote <b>that</b>"


@pytest.fixture
def hostile_appeal(api, decision) -> Appeal:
    response = post_appeal(api, appeal_body(decision, statement=HOSTILE_STATEMENT))
    assert response.status_code == 201
    return Appeal.objects.select_related("appeal_case").get(pk=response.json()["id"])


def page(client, case) -> str:
    response = client.get(reverse("cases:review", args=[case.pk]))
    assert response.status_code == 200
    return response.content.decode()


def appeal_card(html: str) -> str:
    start = html.index('<section class="card appeal" id="appeal"')
    return html[start : html.index("</section>", start)]


def test_the_appeal_page_shows_the_decision_and_the_statement_side_by_side(client, carol, hostile_appeal):
    client.force_login(carol)

    card = appeal_card(page(client, hostile_appeal.appeal_case))

    assert '<div class="side-by-side">' in card
    decision_at = card.index("The decision")
    statement_at = card.index("The user's statement")
    assert decision_at < statement_at
    assert "<strong>Remove</strong> under Harassment, by alice" in card
    assert "Insulting another user." in card  # the decision's reason
    assert "Appellant <code>author-9</code>" in card
    assert "Acme detection" in card  # the vendor that filed it


def test_the_appeal_statement_is_escaped(client, carol, hostile_appeal):
    client.force_login(carol)

    html = page(client, hostile_appeal.appeal_case)

    assert "&lt;script&gt;alert(" in html
    assert "&lt;b&gt;that&lt;/b&gt;" in html
    assert "<script>alert(" not in html and "<b>that</b>" not in html


def test_the_appeal_page_offers_the_outcome_form_not_the_decision_form(client, carol, appeal):
    client.force_login(carol)
    case = fresh(appeal.appeal_case)

    html = page(client, case)

    assert f'action="{reverse("cases:resolve-appeal", args=[case.pk])}"' in html
    assert 'name="outcome" value="uphold" data-action-key="1"' in html
    assert 'name="outcome" value="overturn" data-action-key="2"' in html
    assert f'<input type="hidden" name="version" value="{case.version}">' in html
    assert reverse("cases:decide", args=[case.pk]) not in html
    assert reverse("cases:escalate", args=[case.pk]) not in html


def test_the_original_case_link_is_shown_to_a_reviewer_who_may_see_the_original_case(client, carol, appeal):
    client.force_login(carol)

    card = appeal_card(page(client, appeal.appeal_case))

    original = appeal.decision.case_id
    assert f'<a href="/cases/{original}/">Original case #{original}</a>' in card


def test_the_original_case_link_is_hidden_from_a_reviewer_who_may_not_see_the_original_case(
    client, dave, appeal
):
    client.force_login(dave)

    html = page(client, appeal.appeal_case)

    original = appeal.decision.case_id
    assert "Original case #" not in html
    assert f'href="/cases/{original}/"' not in html
    assert client.get(f"/cases/{original}/").status_code == 404


def test_the_appeal_page_is_404_outside_the_appeals_queue(client, bob, appeal):
    client.force_login(bob)

    assert client.get(reverse("cases:review", args=[appeal.appeal_case_id])).status_code == 404
    response = client.post(
        reverse("cases:resolve-appeal", args=[appeal.appeal_case_id]),
        {"outcome": "overturn", "version": fresh(appeal.appeal_case).version},
        **HX_MAIN,
    )
    assert response.status_code == 404
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def post_outcome(client, appeal, outcome="overturn", *, reason="Quoting is allowed.", version="current"):
    """The logged-in reviewer, holding the appeal case (as after claiming it), posts an outcome."""
    factories.hold(appeal.appeal_case, User.objects.get(pk=client.session[SESSION_KEY]))
    case = fresh(appeal.appeal_case)
    data = {"outcome": outcome, "reason": reason}
    if version == "current":
        data["version"] = case.version
    elif version is not None:
        data["version"] = version
    return client.post(reverse("cases:resolve-appeal", args=[case.pk]), data, **HX_MAIN)


def test_overturning_from_the_page_answers_with_a_toast_and_the_empty_queue(client, carol, appeal):
    client.force_login(carol)

    response = post_outcome(client, appeal, "overturn")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert '<section id="case-main" class="card narrow empty-queue">' in html
    assert "Nothing waiting in Appeals" in html
    assert response["HX-Push-Url"] == "/queues/appeals/"
    toast = json.loads(response["HX-Trigger"])["toast"]
    assert toast == {"message": f"Appeal {appeal.pk}: Overturned.", "level": "success"}
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OVERTURNED and appeal.outcome_reason == "Quoting is allowed."
    assert Enforcement.objects.filter(decision=appeal.decision, kind=Enforcement.Kind.REVERSE).exists()
    assert Strike.objects.get(decision=appeal.decision).removed_at is not None


def test_resolving_from_the_page_answers_with_the_next_appeal_claimed(
    client, api, review_setup, vendor, alice, carol, appeal
):
    second_decision = decide(reported_case(review_setup, vendor, external_id="msg-2"), alice, review_setup)
    second = post_appeal(api, appeal_body(second_decision, external_id="ap-2")).json()
    client.force_login(carol)

    response = post_outcome(client, appeal, "uphold", reason="Stands.")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-case="{second["case_id"]}"' in html
    assert response["HX-Push-Url"] == f"/cases/{second['case_id']}/"
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == f"Appeal {appeal.pk}: Upheld."
    nxt = Case.objects.get(pk=second["case_id"])
    assert nxt.assignee == carol and nxt.status == Case.Status.IN_REVIEW
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.UPHELD


def test_the_original_decider_posting_an_outcome_is_forbidden_and_nothing_changes(client, alice, appeal):
    join_appeals(alice)
    client.force_login(alice)

    response = post_outcome(client, appeal, "overturn", reason="I was wrong <b>sorry</b>")

    assert response.status_code == 403
    html = response.content.decode()
    assert 'role="alert" id="decision-error"' in html
    assert "another agent must review it" in html
    assert ">I was wrong &lt;b&gt;sorry&lt;/b&gt;</textarea>" in html
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN
    assert not Enforcement.objects.filter(kind=Enforcement.Kind.REVERSE).exists()


def test_posting_without_an_outcome_is_a_422(client, carol, appeal):
    client.force_login(carol)

    response = post_outcome(client, appeal, "")

    assert response.status_code == 422
    assert "Choose uphold or overturn." in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def test_posting_without_a_version_is_a_409_and_nothing_changes(client, carol, appeal):
    client.force_login(carol)

    response = post_outcome(client, appeal, "overturn", version=None)

    assert response.status_code == 409
    assert "did not say which version of the case you saw" in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def test_posting_a_stale_version_is_a_409(client, carol, appeal):
    client.force_login(carol)

    response = post_outcome(client, appeal, "overturn", version=moved_on(appeal))

    assert response.status_code == 409
    assert "changed while you had it open" in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.state == Appeal.State.OPEN


def test_the_resolved_appeal_page_shows_the_outcome_and_no_form(client, carol, appeal):
    resolve(appeal, carol, Appeal.State.UPHELD)
    client.force_login(carol)

    html = page(client, appeal.appeal_case)

    assert 'class="status status-upheld">Upheld</span>' in appeal_card(html)
    assert "This case is resolved" in html
    assert reverse("cases:resolve-appeal", args=[appeal.appeal_case_id]) not in html
