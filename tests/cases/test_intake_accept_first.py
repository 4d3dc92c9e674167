"""Accept-first intake (`Prefer: respond-async`): stored in one write, answered 202 with the report's id,
grouped into cases by the grouper with every guarantee of a plain POST."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import AcceptedReport, Case, Report, SubjectVersion
from cases.services import intake_accept_first
from cases.validation import parse_report
from moderation.models import AuditEvent

pytestmark = pytest.mark.django_db

ASYNC = {"HTTP_PREFER": "respond-async"}


def _report(n: int, policy, subject_id: str = "viral-1"):
    """A report as the API hands it over (the grouper rebuilds it from its canonical payload)."""
    raw = {
        "external_id": f"c-{n}",
        "reason": policy.code,
        "subject": {"kind": "post", "external_id": subject_id, "text": f"text {n % 3}"},
        "reporter": {"id": f"u-{n}"},
    }
    item, errors = parse_report(raw, {policy.code: policy})
    assert not errors, errors
    return item


@pytest.fixture
def no_grouping(monkeypatch):
    """Accept without grouping (as with a broker, before the grouper runs)."""
    monkeypatch.setattr(intake_accept_first, "enqueue_grouping", lambda: None)


def test_a_plain_post_still_answers_201_with_its_case(api, report_body):
    response = api.post("/api/v1/reports", report_body(), format="json")

    assert response.status_code == 201
    assert response.json()["case_id"] is not None
    assert "Preference-Applied" not in response


def test_respond_async_answers_202_with_the_id_the_report_keeps(api, report_body, no_grouping):
    response = api.post("/api/v1/reports", report_body(external_id="a-1"), format="json", **ASYNC)

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted" and body["case_id"] is None
    assert response["Preference-Applied"] == "respond-async"
    assert response["Location"] == f"/api/v1/reports/{body['id']}"
    assert not Report.objects.exists()
    waiting = api.get(f"/api/v1/reports/{body['id']}").json()
    assert waiting["status"] == "accepted" and waiting["case"] is None
    assert waiting["external_id"] == "a-1"

    assert intake_accept_first.group_accepted_reports() == 1

    report = Report.objects.get()
    assert report.pk == body["id"]
    grouped = api.get(f"/api/v1/reports/{body['id']}").json()
    assert grouped["status"] == "grouped"
    assert grouped["case"]["id"] == report.case_id


def test_grouping_keeps_every_guarantee_of_a_plain_post(api, report_body, no_grouping):
    for n in range(3):  # three reports on one subject, two contents
        api.post(
            "/api/v1/reports",
            report_body(
                external_id=f"g-{n}", subject={"kind": "post", "external_id": "p-1", "text": f"t{n % 2}"}
            ),
            format="json",
            **ASYNC,
        )

    intake_accept_first.group_accepted_reports()

    case = Case.objects.get()
    assert case.report_count == 3
    assert SubjectVersion.objects.filter(subject=case.subject).count() == 2
    assert AuditEvent.objects.filter(verb="report.received").count() == 3
    assert AuditEvent.objects.filter(verb="case.opened").count() == 1
    assert set(AcceptedReport.objects.values_list("outcome", flat=True)) == {"created"}


def test_a_replay_of_an_accepted_report_answers_the_same_id_and_stores_nothing(api, report_body, no_grouping):
    first = api.post("/api/v1/reports", report_body(external_id="r-1"), format="json", **ASYNC).json()

    again = api.post("/api/v1/reports", report_body(external_id="r-1"), format="json", **ASYNC)

    assert again.status_code == 202 and again.json()["id"] == first["id"]
    assert AcceptedReport.objects.count() == 1


def test_a_replay_once_grouped_is_a_duplicate_with_its_case(api, report_body, no_grouping):
    first = api.post("/api/v1/reports", report_body(external_id="r-2"), format="json", **ASYNC).json()
    intake_accept_first.group_accepted_reports()

    again = api.post("/api/v1/reports", report_body(external_id="r-2"), format="json", **ASYNC)
    plain = api.post("/api/v1/reports", report_body(external_id="r-2"), format="json")

    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["id"] == first["id"] == plain.json()["id"]
    assert plain.status_code == 200 and Report.objects.count() == 1


def test_the_same_key_with_another_body_is_a_conflict(api, report_body, no_grouping):
    api.post("/api/v1/reports", report_body(external_id="c-1", comment="one"), format="json", **ASYNC)

    response = api.post(
        "/api/v1/reports", report_body(external_id="c-1", comment="two"), format="json", **ASYNC
    )

    assert response.status_code == 409
    assert response.json()["fields"] == {"external_id": [response.json()["detail"]]}


def test_a_key_taken_by_a_plain_post_before_grouping_is_recorded_as_a_duplicate(
    api, report_body, no_grouping
):
    accepted = api.post("/api/v1/reports", report_body(external_id="k-1"), format="json", **ASYNC).json()
    plain = api.post("/api/v1/reports", report_body(external_id="k-1"), format="json").json()

    intake_accept_first.group_accepted_reports()

    row = AcceptedReport.objects.get()
    assert (row.outcome, row.report_id) == ("duplicate", plain["id"])
    assert Report.objects.count() == 1
    assert api.get(f"/api/v1/reports/{accepted['id']}").json()["id"] == plain["id"]


def test_a_plain_post_of_a_waiting_key_with_another_body_is_a_conflict_not_a_second_report(
    api, report_body, no_grouping
):
    accepted = api.post(
        "/api/v1/reports", report_body(external_id="k-2", comment="one"), format="json", **ASYNC
    ).json()

    plain = api.post("/api/v1/reports", report_body(external_id="k-2", comment="two"), format="json")

    assert plain.status_code == 409
    assert plain.json()["fields"] == {"external_id": [plain.json()["detail"]]}
    assert not Report.objects.exists()
    intake_accept_first.group_accepted_reports()
    assert Report.objects.get().pk == accepted["id"]  # the 202 keeps its promise
    assert api.get(f"/api/v1/reports/{accepted['id']}").json()["status"] == "grouped"


def test_without_a_broker_the_report_is_grouped_before_the_answer(api, report_body):
    response = api.post("/api/v1/reports", report_body(external_id="e-1"), format="json", **ASYNC)

    assert response.status_code == 202
    assert Report.objects.get().pk == response.json()["id"]


def test_reserved_ids_never_collide_with_plain_reports(api, report_body, no_grouping):
    accepted = api.post("/api/v1/reports", report_body(external_id="id-1"), format="json", **ASYNC).json()
    plain = api.post("/api/v1/reports", report_body(external_id="id-2"), format="json").json()

    intake_accept_first.group_accepted_reports()

    assert plain["id"] != accepted["id"]
    assert set(Report.objects.values_list("id", flat=True)) == {plain["id"], accepted["id"]}


def test_a_batch_accepted_first_answers_202_per_item(api, report_body, no_grouping):
    items = [report_body(external_id=f"b-{n}") for n in range(5)] + [report_body(external_id="b-0")]
    items.append({"external_id": "bad"})

    response = api.post("/api/v1/reports/batch", {"reports": items}, format="json", **ASYNC)

    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * 6 + ["error"]
    assert results[5]["id"] == results[0]["id"]
    assert response.json()["summary"] == {"created": 0, "duplicate": 0, "accepted": 6, "error": 1}
    assert intake_accept_first.group_accepted_reports() == 5
    assert Report.objects.count() == 5


def test_accepting_a_batch_is_a_fixed_number_of_statements(vendor, policies, no_grouping):
    def statements(n: int, offset: int) -> int:
        items = [_report(offset + i, policies["spam"], subject_id=f"s-{i}") for i in range(n)]
        with CaptureQueriesContext(connection) as queries:
            intake_accept_first.accept_reports_first(vendor=vendor, reports=items)
        return len(queries)

    one = statements(1, 0)
    assert one == statements(50, 100)
    if connection.vendor == "postgresql":
        assert one == 1  # one INSERT ... SELECT, in autocommit


def test_grouping_is_a_fixed_number_of_statements_whatever_the_count(vendor, policies, no_grouping):
    def statements(n: int, offset: int) -> int:
        items = [_report(offset + i, policies["spam"], subject_id=f"s-{offset + i}") for i in range(n)]
        intake_accept_first.accept_reports_first(vendor=vendor, reports=items)
        with CaptureQueriesContext(connection) as queries:
            assert intake_accept_first.group_accepted_reports() == n
        return len(queries)

    assert statements(5, 0) == statements(60, 100)


def test_with_a_broker_the_grouper_is_sent_once_a_window_and_after_it(
    api, report_body, monkeypatch, settings
):
    """However many reports arrive, one message per INTAKE_GROUP_DELAY_SECONDS, due just after the window
    closes (so every report stored inside the window is committed before that grouper looks)."""
    from django.core.cache import cache

    import cases.tasks  # noqa: F401  (registers the task, as a worker's start does)
    from cases.models import AcceptedReport
    from cases.services.background import GROUPING_SCHEDULED_KEY
    from tests.webhooks import hold_task

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.INTAKE_GROUP_DELAY_SECONDS = 1.0
    cache.delete(GROUPING_SCHEDULED_KEY)
    held = hold_task(monkeypatch, "cases.group_accepted_reports", AcceptedReport)

    for n in range(4):
        assert (
            api.post("/api/v1/reports", report_body(external_id=f"w-{n}"), format="json", **ASYNC).status_code
            == 202
        )

    assert [countdown for _, countdown in held.sent] == [1.2]
    assert not Report.objects.exists()
    held.run()  # the worker, once the countdown is over
    assert Report.objects.count() == 4
    cache.delete(GROUPING_SCHEDULED_KEY)  # the window closed
    api.post("/api/v1/reports", report_body(external_id="w-late"), format="json", **ASYNC)
    assert len(held.sent) == 2
