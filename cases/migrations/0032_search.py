"""Global search looks things up by the ids people paste: a subject's external id or address, a report's or
an appeal's external id. The unique keys lead with kind or vendor, so these need their own indexes (the author
id already has one; text has the trigram index of 0007). And the subject timeline pages a subject's reports
newest first by keyset: (subject, received_at, id) answers a page of a viral post's 100,000 reports from the
index instead of sorting them all.

PostgreSQL builds them CONCURRENTLY (no write lock on 10M reports while they build; hence atomic = False)
and indexes the address, up to 2,048 characters, by hash: equality is all search asks, and a B-tree entry
that long could exceed a page. Other databases: plain indexes.
"""

from django.db import migrations

INDEXES = [
    ("subject_external_id_idx", "cases_subject", "external_id", "btree"),
    ("subject_url_idx", "cases_subject", "url", "hash"),
    ("report_external_id_idx", "cases_report", "external_id", "btree"),
    ("appeal_external_id_idx", "cases_appeal", "external_id", "btree"),
    ("report_subject_time_idx", "cases_report", "subject_id, received_at, id", "btree"),
]


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, table, column, method in INDEXES:
        if postgres:
            schema_editor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING {method} ({column})"
            )
        else:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, _, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("cases", "0031_undo")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
