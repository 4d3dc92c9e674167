"""Leads browse the audit log with filters and export it as CSV; the export is itself audited."""

import csv
import io
import warnings

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.test import AsyncClient, Client

from moderation.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client():
    """A lead with the audit permission, member of a queue with two cases (`client.cases`: their ids)."""
    lead = factories.UserFactory(username="lena")
    lead.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    queue = factories.QueueFactory(slug="team-queue")
    queue.members.add(lead)
    client = Client()
    client.force_login(lead)
    client.cases = [factories.OpenCaseFactory(queue=queue).pk for _ in range(2)]
    return client


def event(verb, *, actor="alice", case_id=None, data=None, target=None):
    """A stored event, written straight to the table: the log shows (and escapes) whatever a row holds,
    including verbs no longer in `Verb` and hostile text, so the view is tested beyond what the code writes."""
    target = target or factories.UserFactory(username=f"t-{AuditEvent.objects.count()}")
    return AuditEvent.objects.create(
        actor_type="user",
        actor_id="1",
        actor_label=actor,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        case_id=case_id,
        data=data or {},
    )


def test_an_agent_without_the_permission_cannot_see_or_export_the_log(client):
    client.force_login(factories.UserFactory(username="agent"))

    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def test_anonymous_users_are_sent_to_login(client):
    assert client.get("/audit/")["Location"].startswith("/accounts/login/")


def test_the_log_filters_by_actor_verb_prefix_and_case(lead_client):
    seven, eight = lead_client.cases
    event("decision.recorded", actor="alice", case_id=seven)
    event("decision.confirmed", actor="bob", case_id=seven)
    event("case.claimed", actor="alice", case_id=eight)

    by_actor = lead_client.get("/audit/", {"actor": "alice"}).content.decode()
    by_verb = lead_client.get("/audit/", {"verb": "decision."}).content.decode()
    by_case = lead_client.get("/audit/", {"case": eight}).content.decode()

    assert (
        "case.claimed" in by_actor
        and "decision.recorded" in by_actor
        and "decision.confirmed" not in by_actor
    )
    assert (
        "decision.recorded" in by_verb and "decision.confirmed" in by_verb and "case.claimed" not in by_verb
    )
    assert "case.claimed" in by_case and "decision.recorded" not in by_case


def test_the_log_filters_by_time(lead_client):
    """(The log is append-only, on PostgreSQL by trigger: events cannot be backdated, so the cut is between.)"""
    old = event("old.thing")
    new = event("new.thing")
    cut = (old.at + (new.at - old.at) / 2).isoformat()

    after = lead_client.get("/audit/", {"since": cut}).content.decode()
    before = lead_client.get("/audit/", {"until": cut}).content.decode()

    assert "new.thing" in after and "old.thing" not in after
    assert "old.thing" in before and "new.thing" not in before


def test_an_invalid_filter_is_a_422_not_a_500(lead_client):
    response = lead_client.get("/audit/", {"case": "abc", "since": "yesterday"})

    assert response.status_code == 422


def test_pages_go_back_in_time_by_id(lead_client, monkeypatch):
    monkeypatch.setattr("moderation.audit_views.PAGE_SIZE", 2)
    first, second, third = (event(f"step.{n}") for n in range(3))

    page_one = lead_client.get("/audit/", {"verb": "step."}).content.decode()
    page_two = lead_client.get("/audit/", {"verb": "step.", "before": second.pk}).content.decode()

    assert "step.2" in page_one and "step.1" in page_one and "step.0" not in page_one
    assert f"before={second.pk}" in page_one
    assert "step.0" in page_two and "step.1" not in page_two
    assert first.pk < second.pk < third.pk


def test_hostile_data_in_the_log_is_escaped(lead_client):
    event("note.added", data={"text": "<script>alert(1)</script>"})

    html = lead_client.get("/audit/").content.decode()

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


def test_the_csv_export_has_the_filtered_rows_and_is_itself_audited(lead_client):
    event("decision.recorded", case_id=lead_client.cases[0], data={"action": "remove"})
    event("case.claimed", case_id=lead_client.cases[1])

    response = lead_client.get("/audit/export.csv", {"verb": "decision."})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert rows[0][:6] == ["id", "at", "actor_type", "actor_id", "actor", "verb"]
    assert [row[5] for row in rows[1:]] == ["decision.recorded"]
    exported = AuditEvent.objects.get(verb="audit.exported")
    assert exported.actor_label == "lena"
    assert exported.data["filters"] == {"verb": "decision."}


def test_under_asgi_the_csv_export_streams_instead_of_being_built_whole_first(lead_client, settings):
    """The production server is ASGI, where Django would turn a plain generator into a list before the first
    byte (a 100,000-row export, whole, in memory)."""
    settings.AUDIT_EXPORT_MAX_ROWS = 10
    for n in range(3):
        event("decision.recorded", case_id=lead_client.cases[0], data={"n": n})
    client = AsyncClient()
    client.cookies = lead_client.cookies

    async def export():
        response = await client.get("/audit/export.csv", {"verb": "decision."})
        return response, b"".join([part async for part in response.streaming_content])

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "StreamingHttpResponse must consume synchronous iterators"
        response, body = async_to_sync(export)()

    assert response.status_code == 200 and response.is_async
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert [row[5] for row in rows[1:]] == ["decision.recorded"] * 3


def test_the_csv_export_neutralises_spreadsheet_formulas(lead_client):
    event('=HYPERLINK("http://evil.example")', actor="@attacker", data={"x": 1})

    response = lead_client.get("/audit/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    data_rows = [row for row in rows[1:] if "HYPERLINK" in row[5]]
    assert data_rows[0][5].startswith("'=")
    assert data_rows[0][4] == "'@attacker"


def test_the_csv_export_stops_at_its_row_limit(lead_client, settings):
    settings.AUDIT_EXPORT_MAX_ROWS = 2
    for n in range(5):
        event(f"bulk.{n}")

    response = lead_client.get("/audit/export.csv", {"verb": "bulk."})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert len(rows) == 1 + 2
    assert [row[5] for row in rows[1:]] == ["bulk.4", "bulk.3"]  # newest first


def test_an_export_with_invalid_filters_is_a_422_naming_the_field(lead_client):
    response = lead_client.get("/audit/export.csv", {"case": "x"})

    assert response.status_code == 422
    assert "case" in response.json()["fields"]
    assert not AuditEvent.objects.filter(verb="audit.exported").exists()


def test_events_of_cases_the_lead_cannot_see_stay_out_of_the_log_and_the_export(lead_client):
    elsewhere = factories.OpenCaseFactory(queue=factories.QueueFactory(slug="other-team")).pk
    event("media.revealed", case_id=elsewhere, data={"url": "https://secret.example/pic"})
    event("media.revealed", case_id=lead_client.cases[0], data={"url": "https://mine.example/pic"})

    page = lead_client.get("/audit/").content.decode()
    export = b"".join(lead_client.get("/audit/export.csv").streaming_content).decode()
    by_case = lead_client.get("/audit/", {"case": elsewhere}).content.decode()

    for body in (page, export):
        assert "mine.example" in body and "secret.example" not in body
    assert "secret.example" not in by_case
