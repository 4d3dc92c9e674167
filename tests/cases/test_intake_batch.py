"""The batch endpoint: per-item results in order; one bad item never loses the good ones."""

import pytest

from cases.models import Case, Report

pytestmark = pytest.mark.django_db


def post_batch(api, reports):
    return api.post("/api/v1/reports/batch", {"reports": reports}, format="json")


def test_all_good_items_are_created_with_200(api, report_body):
    items = [
        report_body(external_id=f"b-{n}", subject={"kind": "post", "external_id": f"p-{n}"}) for n in range(5)
    ]
    response = post_batch(api, items)

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created"] * 5
    assert [r["index"] for r in body["results"]] == list(range(5))
    assert body["summary"] == {"created": 5, "duplicate": 0, "error": 0}
    assert Report.objects.count() == 5 and Case.objects.count() == 5


def test_partial_failure_keeps_good_items_and_reports_errors_in_order(api, report_body):
    items = [
        report_body(external_id="ok-1"),
        report_body(external_id="bad-kind", subject={"kind": "tweet", "external_id": "x"}),
        "not an object",
        report_body(external_id="ok-2", reason="spam"),
        report_body(external_id="bad-reason", reason="nope"),
    ]
    response = post_batch(api, items)

    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "error", "created", "error"]
    assert "subject.kind" in results[1]["fields"]
    assert results[1]["external_id"] == "bad-kind"
    assert results[2]["external_id"] is None and "body" in results[2]["fields"]
    assert "reason" in results[4]["fields"]
    assert set(Report.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}


def test_batch_replay_returns_duplicates_with_the_same_ids(api, report_body):
    items = [report_body(external_id=f"b-{n}") for n in range(3)]
    first = post_batch(api, items).json()["results"]
    replay = post_batch(api, items).json()["results"]

    assert [r["status"] for r in replay] == ["duplicate"] * 3
    assert [(r["id"], r["case_id"]) for r in replay] == [(r["id"], r["case_id"]) for r in first]
    assert Report.objects.count() == 3


def test_repeated_key_inside_one_batch(api, report_body):
    items = [
        report_body(external_id="same"),
        report_body(external_id="same"),
        report_body(external_id="same", comment="different"),
    ]
    results = post_batch(api, items).json()["results"]

    assert [r["status"] for r in results] == ["created", "duplicate", "error"]
    assert results[1]["id"] == results[0]["id"]
    assert results[2]["error"] == "conflict"
    assert Report.objects.count() == 1


def test_conflicting_replay_is_an_item_error(api, report_body):
    post_batch(api, [report_body(external_id="k")])
    results = post_batch(api, [report_body(external_id="k", comment="changed"), report_body(external_id="n")])
    assert results.status_code == 207
    assert [r["status"] for r in results.json()["results"]] == ["error", "created"]


def test_many_reports_on_one_subject_in_a_batch_make_one_case(api, report_body):
    items = [report_body(external_id=f"s-{n}", reporter={"id": f"u{n % 4}"}) for n in range(20)]
    results = post_batch(api, items).json()["results"]
    assert len({r["case_id"] for r in results}) == 1
    case = Case.objects.get()
    assert case.report_count == 20 and case.reporter_count == 4


def test_over_the_limit_is_400_and_stores_nothing(api, report_body, settings):
    settings.API_MAX_BATCH_SIZE = 3
    response = post_batch(api, [report_body(external_id=f"b-{n}") for n in range(4)])
    assert response.status_code == 400
    assert "reports" in response.json()["fields"]
    assert Report.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"reports": []}, {"reports": "x"}, [1, 2]])
def test_malformed_envelope_is_400(api, body):
    response = api.post("/api/v1/reports/batch", body, format="json")
    assert response.status_code == 400
    assert "reports" in response.json()["fields"]


def test_batch_query_count_does_not_grow_with_size(api, report_body, django_assert_max_num_queries):
    items = [
        report_body(external_id=f"q-{n}", subject={"kind": "post", "external_id": f"p-{n}"})
        for n in range(100)
    ]
    with django_assert_max_num_queries(20):
        response = post_batch(api, items)
    assert response.json()["summary"]["created"] == 100


def test_unencodable_external_id_of_a_bad_item_is_echoed_safely(api, report_body):
    raw = '{"reports": [{"external_id": "bad\\ud800", "reason": "spam"}]}'
    response = api.post("/api/v1/reports/batch", raw, content_type="application/json")
    assert response.status_code == 207
    result = response.json()["results"][0]
    assert result["status"] == "error" and result["external_id"] == "bad\\ud800"


def test_a_case_opened_by_a_batch_takes_the_most_severe_reported_policy(api, report_body):
    items = [
        report_body(external_id="s-1", reason="spam"),
        report_body(external_id="s-2", reason="child-safety"),
    ]
    items.append(report_body(external_id="s-3", reason="harassment"))

    results = post_batch(api, items).json()["results"]

    assert Case.objects.get(pk=results[0]["case_id"]).policy.code == "child-safety"
