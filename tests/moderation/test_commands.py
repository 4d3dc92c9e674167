"""Management commands: create_vendor issues working tokens, seed_demo loads a re-runnable demo."""

import io
import re

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from cases.models import Case, Report
from moderation.models import Action, AuditEvent, Policy, Vendor, VendorToken
from moderation.tokens import TOKEN_PREFIX, hash_token
from queues.models import Queue, QueueIntakeHour, QueueSnapshot, RoutingRule, ScoreCondition
from tests import factories

pytestmark = pytest.mark.django_db

DEMO_POLICIES = {
    "spam",
    "harassment",
    "hate",
    "violent-extremism",
    "child-safety",
    "self-harm",
    "impersonation",
}
DEMO_QUEUES = {"general", "harassment-hate", "child-safety", "violent-extremism", "spam", "escalations"}
STANDARD_QUEUES = {"appeals", "appeals-restricted", "restricted-triage"}
DEMO_VENDORS = {"user-reports", "sentinel"}
DEMO_USERS = {"agent", "lead", "admin"}


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def api_status(token: str, path: str = "/api/v1/reports/1") -> int:
    """404 = authenticated (no such report); 401 = refused."""
    return Client().get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code


# --- create_vendor ---------------------------------------------------------------------------------------


def test_create_vendor_prints_only_a_token_that_authenticates():
    output = run("create_vendor", "Acme")

    token = output.strip()
    assert output.count("\n") == 1  # one line: easy to capture in a shell script
    assert token.startswith(TOKEN_PREFIX)
    assert api_status(token) == 404
    vendor = Vendor.objects.get(name="Acme")
    assert vendor.slug == "acme"
    assert vendor.reliability == 0.5
    row = VendorToken.objects.get(vendor=vendor)
    assert row.key_hash == hash_token(token)
    assert row.revoked_at is None


def test_create_vendor_sets_reliability_and_label():
    run("create_vendor", "Sentinel Detection", "--reliability", "0.85", "--label", "ci")

    vendor = Vendor.objects.get(name="Sentinel Detection")
    assert vendor.slug == "sentinel-detection"
    assert vendor.reliability == 0.85
    assert vendor.tokens.get().label == "ci"


def test_create_vendor_twice_reuses_the_vendor_and_prints_a_different_working_token():
    first = run("create_vendor", "Acme").strip()
    second = run("create_vendor", "Acme").strip()

    assert first != second
    assert Vendor.objects.filter(name="Acme").count() == 1
    vendor = Vendor.objects.get(name="Acme")
    assert vendor.tokens.count() == 2
    assert api_status(first) == 404
    assert api_status(second) == 404


def test_create_vendor_audits_the_issued_token_as_a_system_action():
    run("create_vendor", "Acme")

    event = AuditEvent.objects.get(verb="vendor_token.issued")
    assert event.actor_type == AuditEvent.ActorType.SYSTEM
    assert event.actor_label == "create_vendor"
    assert event.target_id == str(VendorToken.objects.get().pk)


@pytest.mark.parametrize("reliability", ["1.5", "-0.1", "nan", "inf", "high"])
def test_create_vendor_refuses_a_reliability_outside_0_to_1(reliability):
    with pytest.raises(CommandError):
        run("create_vendor", "Acme", "--reliability", reliability)

    assert not Vendor.objects.exists()
    assert not VendorToken.objects.exists()


@pytest.mark.parametrize("name", ["", "!!!", "   "])
def test_create_vendor_refuses_a_name_without_letters_or_digits(name):
    with pytest.raises(CommandError):
        run("create_vendor", name)

    assert not Vendor.objects.exists()


def test_create_vendor_whose_slug_is_taken_by_another_vendor_fails_with_a_command_error():
    factories.VendorFactory(name="Acme detection", slug="acme")

    # "ACME" is a new name but slugifies to the existing "acme": the command must say so, not crash.
    with pytest.raises(CommandError):
        run("create_vendor", "ACME")

    assert Vendor.objects.count() == 1
    assert not VendorToken.objects.exists()


# --- seed_demo -------------------------------------------------------------------------------------------


def test_seed_demo_loads_the_policy_catalogue_with_allowed_actions():
    run("seed_demo", "--reports", "40")

    assert set(Policy.objects.values_list("code", flat=True)) == DEMO_POLICIES
    assert Action.objects.count() == 8
    for policy in Policy.objects.all():
        assert policy.allowed_actions.exists(), policy.code
        assert 1 <= policy.severity <= 5
    assert Policy.objects.get(code="child-safety").requires_second_review


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner statistics")
def test_seed_demo_leaves_the_planner_knowing_how_big_the_tables_it_filled_are():
    run("seed_demo", "--reports", "40")

    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname IN ('cases_report', 'cases_case')")
        estimates = [row[0] for row in cursor.fetchall()]
    assert len(estimates) == 2 and all(estimate > 0 for estimate in estimates)  # -1: never analyzed


def test_seed_demo_gives_each_action_its_own_key_and_no_violation_0():
    run("seed_demo", "--reports", "40")

    keys = dict(Action.objects.values_list("code", "shortcut_key"))
    assert keys["dismiss"] == "0" and keys["remove"] == "1" and keys["escalate"] == ""
    given = [key for key in keys.values() if key]
    assert len(given) == len(set(given)) == 7
    for action in Action.objects.all():
        action.full_clean()


def test_seed_demo_loads_queues_vendors_and_users():
    run("seed_demo", "--reports", "40")

    # The demo's queues, and the three every installation has from the start (a migration).
    assert set(Queue.objects.values_list("slug", flat=True)) == DEMO_QUEUES | STANDARD_QUEUES
    assert Queue.objects.get(is_default=True).slug == "general"
    assert Queue.objects.get(slug="child-safety").is_restricted
    assert set(Vendor.objects.values_list("slug", flat=True)) == DEMO_VENDORS
    users = {user.username: user for user in User.objects.all()}
    assert set(users) == DEMO_USERS
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert users["lead"].is_staff and not users["lead"].is_superuser
    assert not users["agent"].is_staff
    assert users["agent"].groups.filter(name="Agents").exists()
    assert users["lead"].groups.filter(name="Leads").exists()


def test_seed_demo_rules_name_the_signal_source_each_condition_trusts():
    run("seed_demo", "--reports", "40")

    conditions = {
        condition.rule.name: condition for condition in ScoreCondition.objects.select_related("rule")
    }
    for condition in conditions.values():
        condition.full_clean()
    spam = conditions["Obvious spam: remove (shadow)"]
    assert (spam.source, spam.source_name, spam.label) == ("vendor_score", "sentinel", "spam")
    profanity = conditions["Very offensive harassment"]
    assert (profanity.source, profanity.label) == ("scorer", "profanity")
    for rule in RoutingRule.objects.exclude(automation_mode="off").prefetch_related("score_conditions"):
        assert rule.automation_is_attributable, rule.name


def test_seed_demo_sends_the_requested_reports_grouped_into_cases_by_subject():
    output = run("seed_demo", "--reports", "40")

    assert "40 new reports" in output
    assert Report.objects.count() == 40
    assert set(Report.objects.values_list("vendor__slug", flat=True)) <= DEMO_VENDORS
    subjects = Report.objects.values("subject").distinct().count()
    assert 1 <= Case.objects.count() == subjects < 40
    assert sum(Case.objects.values_list("report_count", flat=True)) == 40
    for case in Case.objects.all():
        assert set(case.reports.values_list("subject_id", flat=True)) == {case.subject_id}


def test_seed_demo_prints_a_vendor_token_that_authenticates():
    output = run("seed_demo", "--reports", "40")

    match = re.search(r"Demo vendor token \(user-reports\): (\S+)", output)
    assert match
    token = match.group(1)
    report = Report.objects.filter(vendor__slug="user-reports").first()
    assert (
        Client().get(f"/api/v1/reports/{report.pk}", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    )


def test_seed_demo_run_twice_does_not_duplicate_configuration_users_or_reports():
    run("seed_demo", "--reports", "40")
    counts = {
        model.__name__: model.objects.count()
        for model in (Policy, Action, Queue, Vendor, User, Group, Report, Case)
    }

    output = run("seed_demo", "--reports", "40")

    assert "0 new reports" in output
    assert {
        model.__name__: model.objects.count()
        for model in (Policy, Action, Queue, Vendor, User, Group, Report, Case)
    } == counts
    assert set(Policy.objects.values_list("code", flat=True)) == DEMO_POLICIES
    assert set(User.objects.values_list("username", flat=True)) == DEMO_USERS
    assert Queue.objects.filter(is_default=True).count() == 1
    for policy in Policy.objects.all():
        assert policy.allowed_actions.exists()


def test_seed_demo_ships_matching_banks_whose_hits_route_demo_cases(settings):
    from cases.models import Bank, Signal
    from cases.tasks import enrich_then_route

    settings.BANK_RELOAD_SECONDS = 0
    run("seed_demo", "--reports", "60")
    for case_id in Case.objects.values_list("pk", flat=True):  # what the worker does after intake commits
        enrich_then_route(case_id)

    assert set(Bank.objects.values_list("name", flat=True)) == {"threat-terms", "scam-domains"}
    hits = Signal.objects.filter(source="bank")
    assert hits.filter(label="bank:scam-domains").exists()
    assert hits.filter(label="bank:threat-terms").exists()
    routed = Case.objects.filter(signals__label="bank:scam-domains").values_list("queue__slug", flat=True)
    assert set(routed) <= {"spam", "child-safety", "violent-extremism"}
    run("seed_demo", "--reports", "10")  # re-runnable: the banks are not duplicated
    assert Bank.objects.count() == 2


@pytest.mark.django_db(transaction=True)  # the demo's reports are routed when their batches commit
def test_seed_demo_fills_the_lead_dashboards_without_a_beat():
    """`make run` has no beat: the demo records the first backlog snapshot and intake itself, so a lead's
    Queue health page shows the demo's reports, not "no data"."""
    run("seed_demo", "--reports", "40")

    assert QueueSnapshot.objects.filter(waiting__gt=0).exists()
    assert sum(QueueIntakeHour.objects.values_list("reports", flat=True)) > 0
