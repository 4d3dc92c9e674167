"""Testing a data migration: move the test database to a migration and get the models as they are there."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets):
    """Migrate the test database to `targets` (e.g. `[("cases", "0021_media_restriction")]`); returns the app
    registry of that state, for `apps.get_model(...)`. A fresh executor each time: the graph it loaded
    before the last step is stale."""
    MigrationExecutor(connection).migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps
