"""python manage.py create_app_role NAME [--password-env VAR]: the database role web, worker and beat use.

Run it as the tables' owner (MIGRATE_DATABASE_URL, or DATABASE_URL of the owner) after every `migrate`;
running it again changes nothing, or puts the role back in shape. See moderation/database_roles.py.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from moderation.database_roles import AUDIT_TABLE, AppRoleError, connected_as_owner, create_app_role


class Command(BaseCommand):
    help = (
        "Create (or put back in shape) the database role the app connects as: it reads and writes the app's "
        "tables but may only insert into and read the audit log."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the role's name, e.g. moderation_app")
        parser.add_argument(
            "--password-env",
            metavar="VAR",
            help="set the role's password from this environment variable (never from the command line)",
        )
        parser.add_argument("--schema", default="public")

    def execute(self, *args, **options):
        # Connect as the owner before anything (system checks included) touches the database.
        with connected_as_owner():
            return super().execute(*args, **options)

    def handle(self, name, password_env, schema, **options):
        password = None
        if password_env:
            password = os.environ.get(password_env, "")
            if not password:
                raise CommandError(f"--password-env {password_env}: that variable is unset or empty.")
        try:
            role = create_app_role(name=name, password=password, schema=schema)
        except AppRoleError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{'Created' if role.created else 'Checked'} role {role.name} (LOGIN, NOINHERIT"
            f"{', password set' if password else ''}): read and write on the tables of {schema} "
            f"({role.tables}), insert and read only on {AUDIT_TABLE}, read only on django_migrations, "
            f"{role.sequences} sequences; tables {role.owner} creates later included."
        )
