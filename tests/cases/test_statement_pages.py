"""Leads' DSA pages (failing statements and their retry, the export, the transparency report) and the
`export_statements` command: access control, clearance for restricted queues, exact output, bounded queries,
audited exports."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from cases.models import Appeal, StatementOfReasons
from cases.services.statements import record_statement
from moderation.models import Action, AuditEvent
from moderation.roles import LEAD, sync_roles
from queues.models import QueueClearance
from tests import factories

pytestmark = pytest.mark.django_db

PAGES = ["/dsa/statements/", "/dsa/statements/export", "/dsa/transparency/", "/dsa/transparency/?format=csv"]


def restriction(queue, *, policy=None, restricted=False, action_kind=Action.Kind.REMOVE, hours_waited=2.0):
    """A decided case in `queue` with its statement (built by the real builder), reported `hours_waited`
    before the decision."""
    case = factories.CaseFactory(queue=queue, is_restricted=restricted, status="resolved",
                                 **({"policy": policy} if policy else {}))  # fmt: skip
    report = factories.ReportFactory(case=case, policy=case.policy)
    action = factories.ActionFactory(code=f"act-{action_kind}", kind=action_kind)
    decision = factories.DecisionFactory(case=case, action=action)
    type(report).objects.filter(pk=report.pk).update(
        received_at=decision.created_at - timedelta(hours=hours_waited)
    )
    return record_statement(decision)


@pytest.fixture
def world(db):
    sync_roles()
    from django.contrib.auth.models import Group

    team = factories.QueueFactory(slug="team", name="Team")
    csam = factories.QueueFactory(slug="csam", name="Child safety", is_restricted=True)
    lead = factories.UserFactory(username="lena")
    lead.groups.add(Group.objects.get(name=LEAD))
    cleared = factories.UserFactory(username="clara")
    cleared.groups.add(Group.objects.get(name=LEAD))
    agent = factories.UserFactory(username="andy")
    for user in (lead, cleared, agent):
        team.members.add(user)
    for user in (lead, cleared):
        csam.members.add(user)  # a member of the restricted queue, but only clara is cleared for it
    QueueClearance.objects.create(queue=csam, user=cleared, reason="trained")
    spam = factories.PolicyFactory(code="spam", name="Spam")
    open_one = restriction(team, policy=spam, hours_waited=1.0)
    other = restriction(team, policy=spam, action_kind=Action.Kind.SUSPEND_PERMANENT, hours_waited=3.0)
    hidden = restriction(csam, restricted=True, policy=factories.PolicyFactory(code="child-safety"))
    StatementOfReasons.objects.filter(pk__in=[other.pk, hidden.pk]).update(
        state="failed", last_error="HTTP 503: down"
    )
    return type("World", (), {"team": team, "csam": csam, "lead": lead, "cleared": cleared, "agent": agent,
                              "open_one": open_one, "other": other, "hidden": hidden})  # fmt: skip


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_the_pages_are_for_leads_only(world, url):
    assert Client().get(url).status_code == 302  # to the login page
    assert client_for(world.agent).get(url).status_code == 403
    assert client_for(world.lead).get(url).status_code == 200


def test_leads_see_failing_statements_but_never_a_restricted_queues_unless_cleared(world):
    page = client_for(world.lead).get("/dsa/statements/").content.decode()

    assert world.other.puid in page and "HTTP 503: down" in page
    assert world.hidden.puid not in page
    assert "1 statement could not be submitted" in page

    cleared = client_for(world.cleared).get("/dsa/statements/").content.decode()
    assert world.hidden.puid in cleared and "2 statements could not be submitted" in cleared


def test_the_statements_page_reads_in_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    client = client_for(world.lead)
    for _ in range(5):
        restriction(world.team).__class__.objects.update(state="failed")
    with django_assert_max_num_queries(12):
        assert client.get("/dsa/statements/").status_code == 200


def test_a_lead_retries_a_failed_statement_and_it_is_audited(world):
    response = client_for(world.lead).post(f"/dsa/statements/{world.other.pk}/retry")

    assert response.status_code == 302
    world.other.refresh_from_db()
    assert world.other.state == "pending"
    assert AuditEvent.objects.filter(verb="statement.retried", actor_label="lena").exists()


def test_retrying_needs_the_permission_and_a_visible_case(world):
    assert client_for(world.agent).post(f"/dsa/statements/{world.other.pk}/retry").status_code == 403
    assert client_for(world.lead).post(f"/dsa/statements/{world.hidden.pk}/retry").status_code == 404
    assert client_for(world.lead).get(f"/dsa/statements/{world.other.pk}/retry").status_code == 405
    world.hidden.refresh_from_db()
    assert world.hidden.state == "failed"


def _streamed(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_the_json_export_is_the_statements_as_submitted_without_restricted_ones_for_the_uncleared(world):
    today = timezone.localdate().isoformat()

    response = client_for(world.lead).get(f"/dsa/statements/export?since={today}&format=json")

    assert response["Content-Disposition"].startswith("attachment;")
    assert json.loads(_streamed(response)) == [world.open_one.payload, world.other.payload]
    event = AuditEvent.objects.get(verb="statements.exported")
    assert (event.actor_label, event.data["format"], event.data["since"]) == ("lena", "json", today)
    cleared = json.loads(_streamed(client_for(world.cleared).get(f"/dsa/statements/export?since={today}")))
    assert [s["puid"] for s in cleared] == [world.open_one.puid, world.other.puid, world.hidden.puid]


def test_the_csv_export_is_spreadsheet_safe(world):
    StatementOfReasons.objects.filter(pk=world.open_one.pk).update(
        payload=world.open_one.payload | {"decision_facts": '=HYPERLINK("http://x")'}
    )
    today = timezone.localdate().isoformat()

    text = _streamed(client_for(world.lead).get(f"/dsa/statements/export?since={today}&format=csv"))

    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["puid"] for row in rows] == [world.open_one.puid, world.other.puid]
    assert rows[0]["decision_facts"].startswith("'=HYPERLINK")
    assert rows[0]["decision_visibility"] == "DECISION_VISIBILITY_CONTENT_REMOVED"
    assert rows[1]["decision_account"] == "DECISION_ACCOUNT_TERMINATED"


@pytest.mark.parametrize("query", ["since=yesterday", "since=2026-12-02&until=2026-12-01", "format=xml"])
def test_a_bad_period_or_format_is_refused(world, query):
    assert client_for(world.lead).get(f"/dsa/statements/export?{query}").status_code == 400


def test_the_transparency_report_counts_restrictions_of_visible_cases(world, django_assert_max_num_queries):
    appeal_case = factories.CaseFactory(queue=world.team, kind="appeal")
    Appeal.objects.create(vendor=factories.VendorFactory(), external_id="a1", decision=world.other.decision,
                          appeal_case=appeal_case, statement="no", payload_hash="h", state="overturned")  # fmt: skip
    client = client_for(world.lead)

    with django_assert_max_num_queries(10):
        page = client.get("/dsa/transparency/").content.decode()

    assert "<strong>2</strong> restrictions" in page
    assert "<strong>2.0 h</strong>" in page  # median of 1 h and 3 h; the restricted case's 2 h is not counted
    assert "<strong>1</strong> (0 upheld, 1 overturned)" in page
    assert "Child-Safety" not in page


def test_the_transparency_report_csv_is_audited_and_matches_the_page(world):
    today = timezone.localdate().isoformat()

    response = client_for(world.lead).get(f"/dsa/transparency/?since={today}&until={today}&format=csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert ["Policy", "Spam", "2"] in rows
    assert ["Ground", "Incompatible with terms", "2"] in rows
    assert ["Source", "Notice (Art. 16)", "2"] in rows
    assert ["Automated decision", "Not automated", "2"] in rows
    assert ["Total", "restrictions", "2"] in rows
    assert ["Time to action", "median hours (first report to decision)", "2.00"] in rows
    assert AuditEvent.objects.filter(verb="transparency_report.exported", actor_label="lena").exists()


def test_the_export_command_writes_every_statement_of_the_period_as_submitted(world, tmp_path, capsys):
    today = timezone.localdate()
    out = tmp_path / "s.json"

    call_command("export_statements", "--since", today.isoformat(), "--output", str(out))

    exported = json.loads(out.read_text())
    assert exported == [world.open_one.payload, world.other.payload, world.hidden.payload]
    assert AuditEvent.objects.filter(verb="statements.exported", actor_label="export_statements").exists()
    yesterday = (today - timedelta(days=1)).isoformat()
    call_command("export_statements", "--since", yesterday, "--until", yesterday)
    assert json.loads(capsys.readouterr().out) == []


def test_the_export_command_writes_csv_and_refuses_bad_dates(world, capsys):
    call_command("export_statements", "--since", timezone.localdate().isoformat(), "--format", "csv")

    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 3 and rows[0]["puid"] == world.open_one.puid
    with pytest.raises(CommandError, match="--since"):
        call_command("export_statements", "--since", "01/12/2026")
