"""The audit log: append-only in the database (PostgreSQL), and written by report intake."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from cases.models import Case, Report
from moderation.audit import Actor, Verb, record_event
from moderation.models import AuditEvent, Vendor
from tests import factories

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="the append-only trigger exists on PostgreSQL only"
)


@pytest.fixture
def event(db):
    vendor = factories.VendorFactory(slug="acme")
    return record_event(actor=Actor.for_vendor(vendor), verb=Verb.ADMIN_CHANGED, target=vendor, data={"n": 1})


def stored(event) -> dict:
    return AuditEvent.objects.filter(pk=event.pk).values().get()


# --- Append-only on PostgreSQL ---------------------------------------------------------------------------


@postgres_only
def test_inserting_audit_events_works(event):
    vendor = factories.VendorFactory()
    record_event(actor=Actor.system(), verb=Verb.ADMIN_ADDED, target=vendor)
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(actor_type="system", verb="test.bulk", target_type="x", target_id=str(n))
            for n in range(3)
        ]
    )

    assert AuditEvent.objects.count() == 5


@postgres_only
def test_a_queryset_update_of_an_audit_event_is_refused_by_the_database(event):
    before = stored(event)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(verb="tampered")

    assert stored(event) == before


@postgres_only
def test_saving_a_changed_audit_event_is_refused_by_the_database(event):
    before = stored(event)
    event.actor_label = "someone else"

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.save()

    assert stored(event) == before


@postgres_only
def test_a_raw_sql_update_of_the_audit_table_is_refused(event):
    before = stored(event)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE moderation_auditevent SET data = '{}'::jsonb")

    assert stored(event) == before


@postgres_only
def test_deleting_an_audit_event_is_refused_by_the_database(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        event.delete()

    assert AuditEvent.objects.filter(pk=event.pk).exists()


@postgres_only
def test_a_bulk_delete_of_the_audit_log_is_refused_by_the_database(event):
    record_event(actor=Actor.system(), verb=Verb.ADMIN_ADDED, target=factories.VendorFactory())

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM moderation_auditevent")

    assert AuditEvent.objects.count() == 2


@postgres_only
def test_the_database_stays_usable_after_a_refused_update(event):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(verb="tampered")

    record_event(actor=Actor.system(), verb=Verb.ADMIN_DELETED, target=factories.VendorFactory())
    assert AuditEvent.objects.filter(verb=Verb.ADMIN_DELETED).exists()


@postgres_only
def test_truncating_the_audit_log_is_refused_by_the_database_even_for_its_owner(event):
    with (
        pytest.raises(DatabaseError, match=r"append-only \(TRUNCATE refused\)"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE moderation_auditevent")

    assert AuditEvent.objects.filter(pk=event.pk).exists()


@postgres_only
def test_truncating_it_together_with_other_tables_is_refused_too(event):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE moderation_vendor, moderation_auditevent CASCADE")

    assert AuditEvent.objects.filter(pk=event.pk).exists()


@postgres_only
def test_djangos_flush_still_empties_every_table_the_audit_log_included(event):
    """`manage.py flush` (which asks first) and the test runner's teardown empty the database on purpose."""
    call_command("flush", interactive=False, verbosity=0)

    assert not AuditEvent.objects.exists()
    assert not Vendor.objects.exists()


def test_deleting_the_audited_object_leaves_its_events_in_place(event):
    vendor_pk = event.target_id
    Vendor.objects.filter(pk=vendor_pk).delete()

    assert stored(event)["target_id"] == vendor_pk
    assert stored(event)["verb"] == Verb.ADMIN_CHANGED


# --- Intake writes the log -------------------------------------------------------------------------------


def test_intake_of_one_report_records_report_received_and_case_opened_by_the_vendor(api, report_body, vendor):
    response = api.post("/api/v1/reports", report_body(), format="json")

    assert response.status_code == 201
    body = response.json()
    events = {e.verb: e for e in AuditEvent.objects.filter(verb__in=["report.received", "case.opened"])}
    assert set(events) == {"report.received", "case.opened"}
    for verb, event in events.items():
        assert event.actor_type == AuditEvent.ActorType.VENDOR, verb
        assert event.actor_id == str(vendor.pk), verb
        assert event.actor_label == vendor.slug == "acme", verb
        assert event.case_id == body["case_id"], verb
    assert (events["report.received"].target_type, events["report.received"].target_id) == (
        "cases.report",
        str(body["id"]),
    )
    assert events["report.received"].data["external_id"] == "r-1"
    assert events["report.received"].data["reason"] == "harassment"
    assert (events["case.opened"].target_type, events["case.opened"].target_id) == (
        "cases.case",
        str(body["case_id"]),
    )


def test_a_second_report_on_an_open_case_records_report_received_but_no_new_case_opened(
    api, report_body, vendor
):
    api.post("/api/v1/reports", report_body(external_id="r-1"), format="json")
    case_id = api.post("/api/v1/reports", report_body(external_id="r-2"), format="json").json()["case_id"]

    assert AuditEvent.objects.filter(verb="case.opened", case_id=case_id).count() == 1
    received = AuditEvent.objects.filter(verb="report.received", case_id=case_id)
    assert received.count() == 2
    assert set(received.values_list("actor_label", flat=True)) == {"acme"}
    assert set(received.values_list("target_id", flat=True)) == {
        str(pk) for pk in Report.objects.values_list("pk", flat=True)
    }


def test_batch_intake_records_one_report_received_per_created_report(api, report_body, vendor):
    reports = [
        report_body(external_id="b-1"),
        report_body(external_id="b-2", subject={"kind": "post", "external_id": "post-7", "text": "spam"}),
        report_body(external_id="b-3", subject={"kind": "tweet", "external_id": "x"}),  # invalid
    ]

    response = api.post("/api/v1/reports/batch", {"reports": reports}, format="json")

    assert response.status_code == 207
    assert AuditEvent.objects.filter(verb="report.received").count() == 2
    assert AuditEvent.objects.filter(verb="case.opened").count() == Case.objects.count() == 2
    assert set(AuditEvent.objects.values_list("actor_type", "actor_label").distinct()) >= {("vendor", "acme")}
    assert not AuditEvent.objects.filter(verb="report.received", data__external_id="b-3").exists()


def test_a_refused_report_writes_no_audit_event(api, report_body):
    response = api.post("/api/v1/reports", report_body(reason="no-such-policy"), format="json")

    assert response.status_code == 400
    assert not AuditEvent.objects.filter(verb__in=["report.received", "case.opened"]).exists()
