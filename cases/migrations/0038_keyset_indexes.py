"""Indexes in the queue page's keyset order (issue 18): each page is "the cases after this one" in the sort,
then the id, so the index must carry the id as its last key for the page to come straight off it without a
sort, and the "last reported" order puts cases never reported last (DESC NULLS LAST), which an index on the
plain column cannot give (tests/queues/test_query_plans.py).

PostgreSQL only, and database-only like 0037's covering claim index: built CONCURRENTLY (no write lock on a
million open cases), the model state keeps the plain indexes (SQLite walks few enough rows to sort them).
"""

from django.db import migrations

CLAIMABLE = "status IN ('open', 'in_review', 'escalated', 'pending_confirmation') AND assignee_id IS NULL"
UNRESOLVED = "NOT (status = 'resolved')"

FORWARD = [
    (
        "case_claimable_idx",
        f"(queue_id, priority DESC, opened_at, id) INCLUDE (is_restricted) WHERE {CLAIMABLE}",
    ),
    ("case_queue_reported_idx", f"(queue_id, last_reported_at DESC NULLS LAST, id) WHERE {UNRESOLVED}"),
]
BACKWARD = [
    ("case_claimable_idx", f"(queue_id, priority DESC, opened_at) INCLUDE (is_restricted) WHERE {CLAIMABLE}"),
    ("case_queue_reported_idx", f"(queue_id, last_reported_at) WHERE {UNRESOLVED}"),
]


def _rebuild(schema_editor, definitions):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, definition in definitions:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_next")
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY {name}_next ON cases_case {definition}")
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        schema_editor.execute(f"ALTER INDEX {name}_next RENAME TO {name}")


def forward(apps, schema_editor):
    _rebuild(schema_editor, FORWARD)


def backward(apps, schema_editor):
    _rebuild(schema_editor, BACKWARD)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("cases", "0035_events")]
    operations = [migrations.RunPython(forward, backward, elidable=False)]
