"""A case's reporter count: distinct reporters, each scoped to the vendor that sent it (vendors number their
users independently: vendor A's "u1" is not vendor B's "u1"); a report without a reporter id counts as its
vendor. A case opened by a call counts in Python; a case that already exists is recounted in SQL. Both must
agree, so each path is pinned here."""

import pytest

from cases.models import Case

pytestmark = pytest.mark.django_db


def post_report(api, body):
    return api.post("/api/v1/reports", body, format="json")


def post_batch(api, reports):
    return api.post("/api/v1/reports/batch", {"reports": reports}, format="json")


def reporter(reporter_id):
    return {"reporter": {"id": reporter_id}} if reporter_id else {}


def test_a_new_case_counts_each_reporter_once_and_a_report_without_one_as_its_vendor(api, report_body):
    items = [report_body(external_id=f"a-{n}", **reporter(r)) for n, r in enumerate(["u1", "u1", "", "u2"])]

    results = post_batch(api, items).json()["results"]

    case = Case.objects.get(pk=results[0]["case_id"])
    assert (case.report_count, case.reporter_count) == (4, 3)


def test_reporters_of_two_vendors_sharing_an_id_count_as_two(api, other_api, report_body):
    post_report(api, report_body(external_id="a", **reporter("u1")))  # opens the case

    case_id = post_report(other_api, report_body(external_id="b", **reporter("u1"))).json()["case_id"]

    assert Case.objects.get(pk=case_id).reporter_count == 2


def test_two_vendors_reporting_without_reporter_ids_are_two_reporters(api, other_api, report_body):
    post_report(api, report_body(external_id="a"))

    case_id = post_report(other_api, report_body(external_id="b")).json()["case_id"]

    assert Case.objects.get(pk=case_id).reporter_count == 2


def test_a_case_opened_by_one_vendor_keeps_counting_right_when_another_vendor_reports(
    api, other_api, report_body
):
    opened = [report_body(external_id=f"a-{n}", **reporter(r)) for n, r in enumerate(["u1", "u2", ""])]
    post_batch(api, opened)  # the new-case count: 3
    later = [report_body(external_id=f"b-{n}", **reporter(r)) for n, r in enumerate(["u1", "u2", "u1", ""])]

    results = post_batch(other_api, later).json()["results"]  # the existing-case recount

    case = Case.objects.get(pk=results[0]["case_id"])
    assert (case.report_count, case.reporter_count) == (7, 6)
