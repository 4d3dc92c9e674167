"""The database role the app runs as: it adds to the audit log and reads it, and can never change it.

Migrations run as the role that owns the tables. The web, worker and beat processes connect as another role,
made (and put back in shape, idempotently) by `manage.py create_app_role`, which the owner runs after every
`migrate`. That role may read and write every app table, but on the audit table only SELECT and INSERT.
PostgreSQL lets only a table's owner (or a superuser) ALTER it, DISABLE or DROP its triggers, DROP it, and
only holders of the privilege TRUNCATE it, so no statement the app can send rewrites, empties or unguards
the log, whatever a bug or an attacker inside the app makes it send.

What else could hand the role a way round, and how it is closed (all checked by `verify_app_role`):
- owning anything (an owner may alter it): the role owns nothing, and cannot create tables or functions in
  the schema (`CREATE` revoked, also from PUBLIC: PostgreSQL < 15 grants it to everyone), nor schemas;
- membership of another role (it could `SET ROLE` to it, NOINHERIT or not): refused;
- TRUNCATE, TRIGGER or REFERENCES on any table, UPDATE on sequences (setval): never granted;
- `session_replication_role = replica` (which silences triggers): a superuser's setting, the role is none;
- `django_migrations`: read only, so the app cannot mark a future (security) migration as applied.
Tables that later migrations create get the same read/write grants (default privileges for the owner); the
audit table keeps its own, and running the command again after `migrate` re-asserts them.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from moderation.models import AuditEvent

AUDIT_TABLE = AuditEvent._meta.db_table
MIGRATIONS_TABLE = "django_migrations"
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# The table privileges the app role must not have anywhere: each would let it round the audit log's guard.
NEVER_GRANTED = ("TRUNCATE", "TRIGGER", "REFERENCES")


class AppRoleError(Exception):
    """The app role cannot be set up as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class AppRole:
    name: str
    created: bool
    owner: str
    tables: int
    sequences: int


@contextmanager
def connected_as_owner(alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Within: the `alias` connection uses the owner's credentials (MIGRATE_DATABASE_URL), if set.

    Same database, other login: `migrate` and `create_app_role` run as the owner, the rest of the app never.
    """
    owner = settings.MIGRATE_DATABASE
    if owner is None or alias != DEFAULT_DB_ALIAS:
        yield
        return
    db = connections[alias]
    saved = {key: db.settings_dict.get(key) for key in owner}
    db.close()
    db.settings_dict.update(owner)
    try:
        yield
    finally:
        db.close()
        db.settings_dict.update(saved)


def _quote(name: str) -> str:
    if not ROLE_NAME.fullmatch(name):
        raise AppRoleError(f"{name!r} is not a plain lower-case role name (letters, digits, underscores).")
    return connection.ops.quote_name(name)


def _password_literal(*, name: str, password: str) -> str:
    """The password as a SCRAM verifier literal, computed here (libpq): the server never logs it in clear."""
    from psycopg import sql

    raw = connection.connection
    verifier = raw.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256").decode()
    return sql.Literal(verifier).as_string(raw)


def _one(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _run(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def create_app_role(*, name: str, password: str | None = None, schema: str = "public") -> AppRole:
    """Create the app's database role, or put an existing one back in shape; return what was done.

    LOGIN, NOINHERIT, no superuser, createrole, createdb, replication or RLS bypass; SELECT, INSERT, UPDATE,
    DELETE on every table of `schema` except the audit table (SELECT, INSERT) and `django_migrations`
    (SELECT); USAGE, SELECT on its sequences; the same for tables and sequences the owner creates later.
    Earlier grants to the role in the schema are replaced, not added to. One transaction; run it as the
    tables' owner (or a superuser). Raises AppRoleError, and changes nothing, if the result would not hold
    (see `verify_app_role`).
    """
    if connection.vendor != "postgresql":
        raise AppRoleError("Database roles need PostgreSQL; SQLite has none (nothing to do).")
    role, schema_name = _quote(name), _quote(schema)
    with transaction.atomic():
        owner_row = _one(
            "SELECT tableowner FROM pg_tables WHERE schemaname = %s AND tablename = %s", [schema, AUDIT_TABLE]
        )
        if owner_row is None:
            raise AppRoleError(f"No table {schema}.{AUDIT_TABLE}: run `manage.py migrate` first.")
        owner = owner_row[0]
        if name in {owner, _one("SELECT current_user")[0]}:
            raise AppRoleError(
                f"{name!r} owns the tables or is running this: the app role must be a separate role."
            )
        existing = _one(
            "SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolreplication, "
            "rolbypassrls FROM pg_roles WHERE rolname = %s",
            [name],
        )
        secret = f" PASSWORD {_password_literal(name=name, password=password)}" if password else ""
        if existing is None:
            _run(
                f"CREATE ROLE {role} LOGIN NOINHERIT NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION "
                f"NOBYPASSRLS{secret}"
            )
        else:
            # Only what differs: on PostgreSQL 15 naming SUPERUSER or REPLICATION at all needs a superuser.
            wanted = dict(
                zip(
                    ("LOGIN", "INHERIT", "SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS"),
                    (True, False, False, False, False, False, False),
                    strict=True,
                )
            )
            changes = [
                keyword if want else f"NO{keyword}"
                for (keyword, want), have in zip(wanted.items(), existing, strict=True)
                if have != want
            ]
            if changes or secret:
                _run(f"ALTER ROLE {role} {' '.join(changes)}{secret}")
        memberships = [row[0] for row in _all_memberships(name)]
        if memberships:
            raise AppRoleError(
                f"{name!r} is a member of {', '.join(memberships)}: it could SET ROLE to them. "
                f"Revoke that first (REVOKE {memberships[0]} FROM {name})."
            )
        database = connection.ops.quote_name(_one("SELECT current_database()")[0])
        owner_role = connection.ops.quote_name(owner)
        _run(
            f"GRANT CONNECT ON DATABASE {database} TO {role}",
            f"REVOKE CREATE ON DATABASE {database} FROM {role}",
            f"GRANT USAGE ON SCHEMA {schema_name} TO {role}",
            f"REVOKE CREATE ON SCHEMA {schema_name} FROM PUBLIC, {role}",
            # Replace, never add to: whatever the role was granted before in this schema goes first.
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema_name} FROM {role}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema_name} FROM {role}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema_name} TO {role}",
            f"REVOKE UPDATE, DELETE ON {schema_name}.{AUDIT_TABLE} FROM {role}",
            f"REVOKE INSERT, UPDATE, DELETE ON {schema_name}.{MIGRATIONS_TABLE} FROM {role}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema_name} TO {role}",
            # Tables and sequences later migrations create (as the owner) are usable by the app at once.
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_role} IN SCHEMA {schema_name} REVOKE ALL ON TABLES "
            f"FROM {role}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_role} IN SCHEMA {schema_name} REVOKE ALL ON SEQUENCES "
            f"FROM {role}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_role} IN SCHEMA {schema_name} "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner_role} IN SCHEMA {schema_name} "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {role}",
        )
        problems = verify_app_role(name=name, schema=schema)
        if problems:
            raise AppRoleError("The app role would not be safe: " + "; ".join(problems))
        tables, sequences = _one(
            "SELECT count(*) FILTER (WHERE c.relkind IN ('r', 'p')), count(*) FILTER (WHERE c.relkind = 'S') "
            "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = %s",
            [schema],
        )
    return AppRole(name=name, created=existing is None, owner=owner, tables=tables, sequences=sequences)


def _all_memberships(name: str) -> list[tuple[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolname FROM pg_auth_members AS m JOIN pg_roles AS r ON r.oid = m.roleid "
            "JOIN pg_roles AS u ON u.oid = m.member WHERE u.rolname = %s ORDER BY r.rolname",
            [name],
        )
        return cursor.fetchall()


def verify_app_role(*, name: str, schema: str = "public") -> list[str]:
    """What would let the role change the audit log (or anything's schema); empty when nothing does."""
    problems = []
    attributes = _one(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles "
        "WHERE rolname = %s",
        [name],
    )
    if attributes is None:
        return [f"no role {name!r}"]
    if any(attributes):
        problems.append("it has superuser, createrole, createdb, replication or bypassrls")
    if memberships := _all_memberships(name):
        problems.append(f"it is a member of {', '.join(row[0] for row in memberships)}")
    owned = _one(
        "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) "
        "+ (SELECT count(*) FROM pg_proc WHERE proowner = r.oid) "
        "+ (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) FROM pg_roles AS r WHERE r.rolname = %s",
        [name],
    )[0]
    if owned:
        problems.append(f"it owns {owned} object(s) in this database")
    if _one("SELECT has_schema_privilege(%s, %s, 'CREATE')", [name, schema])[0]:
        problems.append(
            f"it may create objects in schema {schema} (REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC)"
        )
    if _one("SELECT has_database_privilege(%s, current_database(), 'CREATE')", [name])[0]:
        problems.append("it may create schemas in this database")
    audit = f"{connection.ops.quote_name(schema)}.{AUDIT_TABLE}"
    for privilege in ("SELECT", "INSERT"):
        if not _one("SELECT has_table_privilege(%s, %s, %s)", [name, audit, privilege])[0]:
            problems.append(f"it may not {privilege} the audit log")
    for privilege in ("UPDATE", "DELETE"):
        if _one("SELECT has_table_privilege(%s, %s, %s)", [name, audit, privilege])[0]:
            problems.append(f"it may {privilege} the audit log")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.privilege FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "CROSS JOIN unnest(%s::text[]) AS p(privilege) "
            "WHERE n.nspname = %s "
            # CASE: the planner may test the privilege before the kind, and indexes have none.
            "AND CASE WHEN c.relkind IN ('r', 'p', 'v', 'm', 'f') THEN has_table_privilege(%s, c.oid, p.privilege) "
            "END ORDER BY 1, 2",
            [list(NEVER_GRANTED), schema, name],
        )
        for table, privilege in cursor.fetchall():
            problems.append(f"it may {privilege} {table}")
        cursor.execute(
            "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(%s, c.oid, 'UPDATE') END",
            [schema, name],
        )
        problems.extend(f"it may setval {row[0]}" for row in cursor.fetchall())
    if (
        connection.pg_version >= 150000
        and _one("SELECT has_parameter_privilege(%s, 'session_replication_role', 'SET')", [name])[0]
    ):
        problems.append("it may set session_replication_role (which silences triggers)")
    return problems
