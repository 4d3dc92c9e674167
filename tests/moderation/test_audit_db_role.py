"""The app's database role (PostgreSQL): it adds to the audit log and reads it, and can do nothing else to it.

`create_app_role` runs in the test database, as its owner (the superuser the tests connect as). Most tests
then `SET ROLE` the test connection to it: what follows runs with exactly the role's privileges (a superuser
who sets a role loses the superuser's powers), through the same code web and worker run, and everything, the
role included, is rolled back with the test. `SET ROLE` cannot model one thing, that the app *logs in* as the
role and so cannot set another one; the last tests log in as the role for real.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_migrate

from cases.models import Case, Decision
from cases.services import review
from moderation.audit import Actor, Verb, record_event
from moderation.database_roles import verify_app_role
from moderation.models import AuditEvent
from queues.services import claim_next_case
from tests import factories

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="database roles and privileges exist on PostgreSQL only"
)

INSUFFICIENT_PRIVILEGE = "42501"
AUDIT = "moderation_auditevent"


def role_name() -> str:
    # One per test database: parallel test workers (and other checkouts on the same server) never share one.
    return f"{connection.settings_dict['NAME']}_app"[:63]


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("create_app_role", *args, stdout=out)
    return out.getvalue()


def execute(statement: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def refusal(statement: str) -> str | None:
    """Run `statement` in a savepoint (so the test goes on); the SQLSTATE it was refused with, None if done."""
    try:
        with transaction.atomic():
            execute(statement)
    except DatabaseError as exc:
        return exc.__cause__.sqlstate
    return None


@pytest.fixture
def app_role(db) -> str:
    run_command(role_name())
    return role_name()


@pytest.fixture
def as_app_role(app_role):
    """The test connection with the app role's privileges, as web and worker have them; reset afterwards."""
    execute(f'SET ROLE "{app_role}"')
    try:
        yield app_role
    finally:
        execute("RESET ROLE")


@pytest.fixture
def event(db):
    vendor = factories.VendorFactory(slug="acme")
    return record_event(actor=Actor.for_vendor(vendor), verb=Verb.ADMIN_CHANGED, target=vendor, data={"n": 1})


def stored(event) -> dict:
    return AuditEvent.objects.filter(pk=event.pk).values().get()


# --- What the role may do ----------------------------------------------------------------------------------


def test_under_the_role_the_connection_has_no_superuser_powers(as_app_role):
    assert execute("SELECT current_user, current_setting('is_superuser')") == [(as_app_role, "off")]


def test_the_app_role_writes_audit_events_and_reads_them_back(as_app_role):
    vendor = factories.VendorFactory(slug="acme")

    event = record_event(
        actor=Actor.for_vendor(vendor), verb=Verb.ADMIN_CHANGED, target=vendor, data={"n": 1}
    )

    assert stored(event)["verb"] == Verb.ADMIN_CHANGED
    assert stored(event)["data"] == {"n": 1}
    assert AuditEvent.objects.filter(actor_label="acme").count() == 1


def test_ordinary_app_work_runs_under_the_role(as_app_role, review_setup):
    case = factories.OpenCaseFactory(queue=review_setup.queue, policy=review_setup.policies["spam"])

    claimed = claim_next_case(user=review_setup.agent, queue=review_setup.queue)
    decision = review.record_decision(
        case_id=claimed.pk,
        user=review_setup.agent,
        policy_id=review_setup.policies["spam"].pk,
        action_id=review_setup.actions["no-violation"].pk,
        expected_version=claimed.version,
    )

    assert claimed.pk == case.pk
    assert Case.objects.get(pk=case.pk).status == Case.Status.RESOLVED
    assert Decision.objects.filter(pk=decision.pk).exists()
    assert {"case.claimed", "decision.recorded"} <= set(
        AuditEvent.objects.filter(case_id=case.pk).values_list("verb", flat=True)
    )


def test_report_intake_through_the_api_and_its_enrichment_run_under_the_role(
    as_app_role, api, report_body, django_capture_on_commit_callbacks
):
    queue = factories.QueueFactory(slug="general", is_default=True)

    with django_capture_on_commit_callbacks(execute=True) as enqueued:
        response = api.post("/api/v1/reports", report_body(), format="json")

    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["case_id"])
    assert enqueued, "intake enqueues the enrichment task (run here, eagerly, as the worker would)"
    assert case.queue_id == queue.pk, "the enrichment task routed the case"
    assert {"report.received", "case.opened"} <= set(
        AuditEvent.objects.filter(case_id=case.pk).values_list("verb", flat=True)
    )
    assert execute("SELECT current_user") == [(as_app_role,)]


# --- What the role may not do --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        f"UPDATE {AUDIT} SET verb = 'tampered'",
        f"DELETE FROM {AUDIT}",
        f"TRUNCATE {AUDIT}",
        f"ALTER TABLE {AUDIT} DISABLE TRIGGER moderation_auditevent_append_only",
        f"ALTER TABLE {AUDIT} DISABLE TRIGGER ALL",
        f"DROP TRIGGER moderation_auditevent_append_only ON {AUDIT}",
        f"DROP TRIGGER moderation_auditevent_no_truncate ON {AUDIT}",
        f"DROP TABLE {AUDIT}",
        f"ALTER TABLE {AUDIT} RENAME TO old_audit",
        f"ALTER TABLE {AUDIT} OWNER TO CURRENT_USER",
        f"LOCK TABLE {AUDIT} IN ACCESS EXCLUSIVE MODE",
        "CREATE OR REPLACE FUNCTION moderation_auditevent_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
        "DROP FUNCTION moderation_auditevent_append_only() CASCADE",
    ],
    ids=lambda statement: " ".join(statement.split()[:3]),
)
def test_the_app_role_cannot_change_empty_or_unguard_the_audit_log(as_app_role, event, statement):
    before = stored(event)

    assert refusal(statement) == INSUFFICIENT_PRIVILEGE

    assert stored(event) == before


def test_the_orm_cannot_update_or_delete_audit_events_under_the_role(as_app_role, event):
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(verb="tampered")
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()

    assert stored(event)["verb"] == Verb.ADMIN_CHANGED


def test_the_app_role_cannot_silence_triggers_for_its_session(as_app_role):
    assert refusal("SET session_replication_role = replica") == INSUFFICIENT_PRIVILEGE


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE public.app_made (id int)",
        "CREATE FUNCTION public.app_made() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA app_made",
    ],
    ids=["table", "function", "schema"],
)
def test_the_app_role_cannot_create_objects_it_would_own(as_app_role, statement):
    """An owner may alter what it owns, and a function planted in the schema could run as a migration's owner."""
    assert refusal(statement) == INSUFFICIENT_PRIVILEGE


def test_the_app_role_granting_itself_more_changes_nothing(as_app_role, event):
    execute(f'GRANT UPDATE, DELETE, TRUNCATE ON {AUDIT} TO "{as_app_role}"')  # a warning, nothing granted

    assert refusal(f"UPDATE {AUDIT} SET verb = 'tampered'") == INSUFFICIENT_PRIVILEGE
    assert stored(event)["verb"] == Verb.ADMIN_CHANGED


def test_no_table_lets_the_app_role_disable_triggers_truncate_or_alter_it(as_app_role):
    tables = [row[0] for row in execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    assert len(tables) > 30 and AUDIT in tables

    allowed = {
        (table, verb)
        for table in tables
        for verb, statement in (
            ("disable triggers", f'ALTER TABLE "{table}" DISABLE TRIGGER ALL'),
            ("truncate", f'TRUNCATE "{table}"'),
            ("add a column", f'ALTER TABLE "{table}" ADD COLUMN app_made int'),
        )
        if refusal(statement) != INSUFFICIENT_PRIVILEGE
    }

    assert allowed == set()


def test_django_migrations_is_read_only_for_the_app_role(as_app_role):
    """Else the app could mark a future (say, security) migration as applied, and `migrate` would skip it."""
    assert execute("SELECT count(*) FROM django_migrations")[0][0] > 0
    assert (
        refusal("INSERT INTO django_migrations (app, name, applied) VALUES ('moderation', '9999_x', now())")
        == INSUFFICIENT_PRIVILEGE
    )
    assert refusal("DELETE FROM django_migrations") == INSUFFICIENT_PRIVILEGE


# --- The command -------------------------------------------------------------------------------------------


def table_grants(role: str) -> list[tuple[str, str]]:
    return execute(
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = %s ORDER BY 1, 2",
        [role],
    )


def test_the_command_grants_read_write_everywhere_but_insert_and_read_on_the_audit_log(app_role):
    grants = table_grants(app_role)

    assert {privilege for table, privilege in grants if table == AUDIT} == {"SELECT", "INSERT"}
    assert {privilege for table, privilege in grants if table == "cases_case"} == {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
    }
    assert {privilege for table, privilege in grants if table == "django_migrations"} == {"SELECT"}
    assert execute(
        "SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s",
        [app_role],
    ) == [(True, False, False, False, False)]
    assert verify_app_role(name=app_role) == []


def test_running_the_command_again_changes_nothing(app_role):
    before = table_grants(app_role)

    output = run_command(app_role)

    assert output.startswith(f"Checked role {app_role}")
    assert table_grants(app_role) == before


def test_running_the_command_again_puts_a_loosened_role_back_in_shape(app_role):
    execute(f'GRANT UPDATE, DELETE, TRUNCATE, TRIGGER ON {AUDIT} TO "{app_role}"')
    execute(f'ALTER ROLE "{app_role}" INHERIT CREATEDB')

    run_command(app_role)

    assert {privilege for table, privilege in table_grants(app_role) if table == AUDIT} == {
        "SELECT",
        "INSERT",
    }
    assert execute("SELECT rolinherit, rolcreatedb FROM pg_roles WHERE rolname = %s", [app_role]) == [
        (False, False)
    ]


def test_tables_a_later_migration_creates_are_usable_by_the_app_role(app_role):
    execute(
        "CREATE TABLE later_migration (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, note text)"
    )
    execute(f'SET ROLE "{app_role}"')
    try:
        execute("INSERT INTO later_migration (note) VALUES ('works')")
        execute("UPDATE later_migration SET note = 'still works'")
        assert execute("SELECT note FROM later_migration") == [("still works",)]
        assert refusal("TRUNCATE later_migration") == INSUFFICIENT_PRIVILEGE
        assert refusal("ALTER TABLE later_migration DISABLE TRIGGER ALL") == INSUFFICIENT_PRIVILEGE
    finally:
        execute("RESET ROLE")


def test_a_password_from_the_environment_is_stored_as_a_scram_verifier(db, monkeypatch):
    monkeypatch.setenv("APP_DB_PASSWORD", "correct horse battery staple")

    output = run_command(role_name(), "--password-env", "APP_DB_PASSWORD")

    assert "password set" in output
    [(stored_password,)] = execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role_name()])
    assert stored_password.startswith("SCRAM-SHA-256$")
    assert "correct horse" not in stored_password


def test_an_empty_password_variable_is_refused(db, monkeypatch):
    monkeypatch.setenv("APP_DB_PASSWORD", "")

    with pytest.raises(CommandError, match="APP_DB_PASSWORD"):
        run_command(role_name(), "--password-env", "APP_DB_PASSWORD")


def test_the_command_refuses_a_role_that_could_set_role_to_another(db):
    name = role_name()
    execute(f'CREATE ROLE "{name}" LOGIN NOINHERIT')
    [(owner,)] = execute("SELECT current_user")  # the tables' owner, here
    execute(f'GRANT "{owner}" TO "{name}"')

    with pytest.raises(CommandError, match="is a member of"):
        run_command(name)

    assert table_grants(name) == []


def test_the_command_refuses_to_turn_the_owner_into_the_app_role(db):
    [(owner,)] = execute("SELECT current_user")

    with pytest.raises(CommandError, match="separate role"):
        run_command(owner)


@pytest.mark.parametrize("name", ["App", 'x"; DROP TABLE cases_case; --', "9lives", "a" * 64])
def test_the_command_takes_only_plain_role_names(db, name):
    with pytest.raises(CommandError, match="plain lower-case role name"):
        run_command(name)


# --- Logged in as the role (not SET ROLE), and migrate as the owner -------------------------------------------


@pytest.fixture
def logged_in_as_app_role(transactional_db, settings):
    """The default connection logs in as the app role; MIGRATE_DATABASE is the owner (the tests' login).

    Committed (a real login needs a committed role), so the role is dropped again afterwards.
    """
    name = role_name()
    run_command(name)
    owner = {key: connection.settings_dict[key] for key in ("USER", "PASSWORD", "HOST", "PORT")}
    settings.MIGRATE_DATABASE = owner
    connection.close()
    connection.settings_dict.update(USER=name, PASSWORD="")
    try:
        yield name
    finally:
        connection.close()
        connection.settings_dict.update(owner)
        execute(f'DROP OWNED BY "{name}"')
        execute(f'DROP ROLE "{name}"')


@pytest.mark.django_db(transaction=True)
def test_logged_in_as_the_role_the_app_cannot_become_anyone_else(logged_in_as_app_role):
    [(owner,)] = execute(f"SELECT tableowner FROM pg_tables WHERE tablename = '{AUDIT}'")

    assert execute("SELECT session_user, current_user") == [(logged_in_as_app_role, logged_in_as_app_role)]
    assert refusal(f'SET ROLE "{owner}"') == INSUFFICIENT_PRIVILEGE
    assert refusal(f'SET SESSION AUTHORIZATION "{owner}"') == INSUFFICIENT_PRIVILEGE
    assert refusal(f"TRUNCATE {AUDIT}") == INSUFFICIENT_PRIVILEGE
    record_event(actor=Actor.system("test"), verb=Verb.ADMIN_CHANGED, target=factories.VendorFactory())
    assert AuditEvent.objects.filter(verb=Verb.ADMIN_CHANGED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_migrate_connects_as_the_owner_while_the_app_connects_as_its_role(logged_in_as_app_role, settings):
    seen: list[str] = []

    def who_migrates(sender, using, **kwargs):
        seen.append(execute("SELECT session_user")[0][0])

    post_migrate.connect(who_migrates, dispatch_uid="test-who-migrates")
    try:
        call_command("migrate", verbosity=0)
    finally:
        post_migrate.disconnect(dispatch_uid="test-who-migrates")

    assert set(seen) == {settings.MIGRATE_DATABASE["USER"]}
    assert execute("SELECT session_user")[0][0] == logged_in_as_app_role
