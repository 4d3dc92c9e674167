"""Django's PostgreSQL backend with one difference: `flush` says it means to empty the audit log.

The audit table refuses TRUNCATE (migration moderation 0011) unless the transaction sets
`moderation.allow_audit_truncate`. Django's flush empties every table on purpose (`manage.py flush`, which
asks first, and the test runner between transactional tests), so its TRUNCATE comes with that setting, local
to the flush's transaction. Nothing else in the app truncates anything.
"""

from django.db.backends.postgresql import base, operations

AUDIT_TABLE = "moderation_auditevent"
ALLOW_AUDIT_TRUNCATE = "SET LOCAL moderation.allow_audit_truncate = 'on'"


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(
            style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if statements and AUDIT_TABLE in tables:
            # execute_sql_flush runs these in one transaction: the setting ends with it.
            return [ALLOW_AUDIT_TRUNCATE, *statements]
        return statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
