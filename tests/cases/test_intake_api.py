"""Report intake over REST: creation, idempotency, grouping into cases, vendor isolation."""

import pytest

from cases.models import Case, Report, Signal, Subject, SubjectVersion
from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def post_report(api, body):
    return api.post("/api/v1/reports", body, format="json")


def test_report_creates_case_subject_and_audit_event(api, report_body, vendor):
    response = post_report(api, report_body())

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "created"
    report = Report.objects.get(pk=body["id"])
    assert report.case_id == body["case_id"]
    assert report.vendor == vendor
    assert report.reason == "harassment"
    assert report.subject.kind == "message" and report.subject.external_id == "msg-1"
    case = Case.objects.get(pk=body["case_id"])
    assert case.status == Case.Status.OPEN
    assert case.report_count == 1 and case.reporter_count == 1
    assert case.policy.code == "harassment"
    verbs = set(AuditEvent.objects.filter(case_id=case.pk).values_list("verb", flat=True))
    assert verbs == {"case.opened", "report.received"}


def test_replay_with_same_body_is_a_duplicate_with_the_same_ids(api, report_body):
    first = post_report(api, report_body()).json()
    replay = post_report(api, report_body())

    assert replay.status_code == 200
    assert replay.json() == {"id": first["id"], "case_id": first["case_id"], "status": "duplicate"}
    assert Report.objects.count() == 1


def test_replay_with_different_body_is_a_409_naming_external_id(api, report_body):
    post_report(api, report_body())
    response = post_report(api, report_body(comment="something else"))

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert "external_id" in body["fields"]
    assert Report.objects.count() == 1


def test_same_external_id_from_two_vendors_is_two_reports(api, other_api, report_body):
    assert post_report(api, report_body()).status_code == 201
    assert post_report(other_api, report_body()).status_code == 201
    assert Report.objects.count() == 2
    assert Case.objects.count() == 1


def test_reports_on_one_subject_share_one_case_and_count_distinct_reporters(api, report_body):
    ids = [
        post_report(api, report_body(external_id=f"r-{n}", reporter={"id": reporter})).json()["case_id"]
        for n, reporter in enumerate(["u1", "u2", "u2"])
    ]
    assert len(set(ids)) == 1
    case = Case.objects.get(pk=ids[0])
    assert case.report_count == 3
    assert case.reporter_count == 2


def test_case_policy_is_the_most_severe_reported(api, report_body):
    post_report(api, report_body(external_id="a", reason="spam"))
    case_id = post_report(api, report_body(external_id="b", reason="child-safety")).json()["case_id"]
    post_report(api, report_body(external_id="c", reason="harassment"))
    assert Case.objects.get(pk=case_id).policy.code == "child-safety"


def test_new_subject_text_becomes_a_new_version_and_keeps_old_evidence(api, report_body):
    subject = report_body()["subject"]
    post_report(api, report_body(external_id="a"))
    post_report(api, report_body(external_id="b", subject=subject | {"text": "edited: you are great"}))
    post_report(api, report_body(external_id="c", subject={"kind": "message", "external_id": "msg-1"}))

    stored = Subject.objects.get()
    assert stored.text == "edited: you are great"
    assert stored.content_version == 2
    assert list(SubjectVersion.objects.order_by("version").values_list("text", flat=True)) == [
        "you are worthless",
        "edited: you are great",
    ]
    # A report that carries no content refers to the content as it stands; it erases nothing, and brings
    # nothing of its own.
    assert list(Report.objects.order_by("external_id").values_list("subject_version", flat=True)) == [1, 2, 2]
    assert list(Report.objects.order_by("external_id").values_list("carried_content", flat=True)) == [
        True,
        True,
        False,
    ]


def test_a_report_after_the_case_was_resolved_opens_a_new_case(api, report_body):
    first_case = post_report(api, report_body(external_id="a")).json()["case_id"]
    Case.objects.filter(pk=first_case).update(status=Case.Status.RESOLVED, resolved_at="2026-11-21T00:00:00Z")

    second = post_report(api, report_body(external_id="b", occurred_at="2026-11-22T00:00:00Z")).json()

    assert second["case_id"] != first_case
    assert Case.objects.filter(status=Case.Status.OPEN).count() == 1


def test_a_late_repeat_of_a_decided_report_joins_the_resolved_case(api, report_body):
    first_case = post_report(api, report_body(external_id="a")).json()["case_id"]
    Case.objects.filter(pk=first_case).update(status=Case.Status.RESOLVED, resolved_at="2026-11-21T00:00:00Z")

    # Same reason, same content, seen before the decision: nothing new to review.
    late = post_report(api, report_body(external_id="b", occurred_at="2026-11-20T10:00:00Z")).json()
    assert late["case_id"] == first_case
    # A new reason deserves a new review.
    new_reason = post_report(
        api, report_body(external_id="c", reason="spam", occurred_at="2026-11-20T10:00:00Z")
    )
    assert new_reason.json()["case_id"] != first_case


def test_vendor_scores_become_signals(api, report_body):
    body = report_body(scores=[{"label": "toxicity", "score": 0.91}, {"label": "insult", "score": 0.2}])
    case_id = post_report(api, body).json()["case_id"]
    signals = {s.label: s for s in Signal.objects.filter(case_id=case_id, source=Signal.Source.VENDOR_SCORE)}
    assert signals["toxicity"].score == pytest.approx(0.91)
    assert signals["toxicity"].source_name == "acme"
    assert set(signals) == {"toxicity", "insult"}


def test_report_payload_is_stored_as_evidence(api, report_body):
    report_id = post_report(api, report_body()).json()["id"]
    payload = Report.objects.get(pk=report_id).payload
    assert payload["subject"]["text"] == "you are worthless"
    assert payload["comment"] == "keeps messaging me"


class TestVendorIsolation:
    def test_vendor_reads_its_own_report_and_case(self, api, report_body):
        created = post_report(api, report_body()).json()
        report = api.get(f"/api/v1/reports/{created['id']}")
        case = api.get(f"/api/v1/cases/{created['case_id']}")

        assert report.status_code == 200
        assert report.json()["case"]["id"] == created["case_id"]
        assert case.status_code == 200
        assert case.json() == {
            "id": created["case_id"],
            "status": "open",
            "opened_at": case.json()["opened_at"],
            "report_count": 1,
            "decision": None,
        }

    def test_another_vendor_gets_404_for_report_and_case(self, api, other_api, report_body):
        created = post_report(api, report_body()).json()
        assert other_api.get(f"/api/v1/reports/{created['id']}").status_code == 404
        assert other_api.get(f"/api/v1/cases/{created['case_id']}").status_code == 404

    def test_case_shows_the_decision_once_resolved(self, api, report_body):
        created = post_report(api, report_body()).json()
        case = Case.objects.get(pk=created["case_id"])
        action = factories.ActionFactory(code="remove")
        live = factories.DecisionFactory(case=case, action=action, policy=case.policy, subject_version=1)
        factories.DecisionFactory(case=case, action=factories.ActionFactory(code="warn"), mode="shadow")
        Case.objects.filter(pk=case.pk).update(status=Case.Status.RESOLVED)

        decision = api.get(f"/api/v1/cases/{case.pk}").json()["decision"]
        assert decision["id"] == live.pk  # what an appeal names
        assert decision["subject_version"] == 1
        assert decision["action"] == "remove"
        assert decision["policy"] == "harassment"
        assert decision["automated"] is False

    def test_report_from_another_vendor_on_the_same_case_is_not_counted(self, api, other_api, report_body):
        created = post_report(api, report_body()).json()
        post_report(other_api, report_body(external_id="theirs"))
        assert api.get(f"/api/v1/cases/{created['case_id']}").json()["report_count"] == 1


class TestErrors:
    def test_missing_fields_are_named(self, api):
        response = post_report(api, {"subject": {}})
        assert response.status_code == 400
        fields = response.json()["fields"]
        assert {"external_id", "reason", "subject.kind", "subject.external_id"} <= set(fields)

    def test_unknown_reason_lists_valid_codes(self, api, report_body):
        response = post_report(api, report_body(reason="tax-evasion"))
        assert response.status_code == 400
        message = response.json()["fields"]["reason"][0]
        assert "child-safety" in message and "harassment" in message and "spam" in message

    def test_bad_nested_field_is_named_with_its_path(self, api, report_body):
        response = post_report(api, report_body(scores=[{"label": "x", "score": 1.5}]))
        assert response.status_code == 400
        assert "scores.0.score" in response.json()["fields"]

    def test_wrong_content_type_is_415(self, api):
        response = api.post(
            "/api/v1/reports", "external_id=1", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 415
        assert response.json()["error"] == "unsupported_media_type"

    def test_body_over_limit_is_413(self, api, report_body, settings):
        settings.API_MAX_BODY_BYTES = 2000
        body = report_body(comment="x" * 3000)
        response = post_report(api, body)
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
        assert Report.objects.count() == 0

    def test_invalid_json_is_400(self, api):
        response = api.post("/api/v1/reports", b'{"external_id": ', content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"] == "parse_error"

    def test_nul_character_is_refused_naming_the_field(self, api, report_body):
        response = post_report(api, report_body(comment="bad\x00byte"))
        assert response.status_code == 400
        assert "comment" in response.json()["fields"]

    @pytest.mark.parametrize(
        "header",
        ["", "Bearer", "Bearer nope", "Token abc", "Bearer a b"],
    )
    def test_bad_credentials_are_401_json(self, header, policies, report_body):
        from rest_framework.test import APIClient

        client = APIClient()
        if header:
            client.credentials(HTTP_AUTHORIZATION=header)
        response = post_report(client, report_body())
        assert response.status_code == 401
        assert response.json()["error"] in {"not_authenticated", "authentication_failed"}
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_revoked_token_is_401(self, api, vendor, report_body):
        from moderation.audit import Actor
        from moderation.services import revoke_vendor_tokens

        revoke_vendor_tokens(token_ids=list(vendor.tokens.values_list("pk", flat=True)), actor=Actor.system())
        assert post_report(api, report_body()).status_code == 401


def test_a_late_repeat_seen_at_the_very_moment_of_the_decision_joins_the_resolved_case(api, report_body):
    first_case = post_report(api, report_body(external_id="a")).json()["case_id"]
    Case.objects.filter(pk=first_case).update(status=Case.Status.RESOLVED, resolved_at="2026-11-21T00:00:00Z")

    late = post_report(api, report_body(external_id="b", occurred_at="2026-11-21T00:00:00Z")).json()

    assert late["case_id"] == first_case
