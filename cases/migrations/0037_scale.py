"""Indexes for the queue page's "most reports" ordering and
for the case page's newest reports of a case (issue 18, bench/generate_scale.py at 10M reports).

PostgreSQL builds them CONCURRENTLY (no write lock on millions of cases and reports while they build; hence
atomic = False); the model state gets them as ordinary indexes. Other databases: plain indexes.

On PostgreSQL the claim index is also rebuilt to carry `is_restricted` (INCLUDE): the queue page's capped
count of waiting cases filters on it, and without it in the index the planner combined two other indexes over
all 1M open cases and read the heap (830 ms at 10M reports, 20 ms index-only after). Database-only: Django's
state keeps the plain index (SQLite has no INCLUDE, and the model check would warn about it there).
"""

from django.db import migrations, models
from django.db.models import Q

INDEXES = [
    (
        "case",
        models.Index(
            "queue",
            models.F("report_count").desc(),
            "opened_at",
            name="case_queue_reports_idx",
            condition=~Q(status="resolved"),
        ),
    ),
    ("report", models.Index(fields=["case", "received_at", "id"], name="report_case_time_idx")),
]


def create(apps, schema_editor):
    for model_name, index in INDEXES:
        model = apps.get_model("cases", model_name)
        sql = str(index.create_sql(model, schema_editor))
        if schema_editor.connection.vendor == "postgresql":
            sql = sql.replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY IF NOT EXISTS", 1)
        schema_editor.execute(sql)


CLAIMABLE = "status IN ('open', 'in_review', 'escalated', 'pending_confirmation') AND assignee_id IS NULL"


def cover_claim_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS case_claimable_cover_idx")
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY case_claimable_cover_idx ON cases_case (queue_id, priority DESC, opened_at) "
        f"INCLUDE (is_restricted) WHERE {CLAIMABLE}"
    )
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS case_claimable_idx")
    schema_editor.execute("ALTER INDEX case_claimable_cover_idx RENAME TO case_claimable_idx")


def uncover_claim_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY case_claimable_plain_idx ON cases_case (queue_id, priority DESC, opened_at) "
        f"WHERE {CLAIMABLE}"
    )
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS case_claimable_idx")
    schema_editor.execute("ALTER INDEX case_claimable_plain_idx RENAME TO case_claimable_idx")


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for _, index in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {index.name}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("cases", "0036_intake")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop, elidable=False)],
            state_operations=[
                migrations.AddIndex(model_name=model_name, index=index) for model_name, index in INDEXES
            ],
        ),
        migrations.RunPython(cover_claim_index, uncover_claim_index, elidable=False),
    ]
