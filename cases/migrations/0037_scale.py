"""Indexes for the queue page's "most reports" ordering and
for the case page's newest reports of a case (issue 18, bench/generate_scale.py at 10M reports).

PostgreSQL builds them CONCURRENTLY (no write lock on millions of cases and reports while they build; hence
atomic = False); the model state gets them as ordinary indexes. Other databases: plain indexes.
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


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for _, index in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {index.name}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("cases", "0032_search")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(create, drop, elidable=False)],
            state_operations=[
                migrations.AddIndex(model_name=model_name, index=index) for model_name, index in INDEXES
            ],
        )
    ]
