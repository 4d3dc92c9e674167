"""`migrate`, connected as the tables' owner when MIGRATE_DATABASE_URL is set.

The app itself connects with DATABASE_URL, as a role that cannot change the schema or the audit log
(`create_app_role`); schema changes need the owner. Otherwise exactly Django's `migrate`.
"""

from django.core.management.commands import migrate

from moderation.database_roles import connected_as_owner


class Command(migrate.Command):
    def execute(self, *args, **options):
        # Before the system checks too: on a first deploy the app role does not exist yet.
        with connected_as_owner(options.get("database") or "default"):
            return super().execute(*args, **options)
