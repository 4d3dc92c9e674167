# One outbox for enforcements and vendor callbacks (cases.services.outbox). Written by hand: the table of
# vendor notifications is renamed, not recreated, so every row keeps its state, attempts and answer.

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def keep_pending_enforcements_held(apps, schema_editor):
    """A pending enforcement with no scheduled retry is in a task's hands (or lost): from its last attempt
    (or creation) the sweeper waits the stale window, as it did. Vendor callbacks had no sweeper: their
    pending rows stay held by no task, so the first sweep sends the ones the broker refused or lost."""
    Enforcement = apps.get_model("cases", "Enforcement")
    Enforcement.objects.filter(state="pending", next_attempt_at__isnull=True).update(
        next_attempt_at=Coalesce(F("last_attempt_at"), F("created_at"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0021_media_restriction"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="vendornotification",
            name="one_notification_per_vendor_decision",
        ),
        migrations.RenameModel(old_name="VendorNotification", new_name="VendorCallback"),
        migrations.AlterField(
            model_name="vendorcallback",
            name="vendor",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="vendor_callbacks",
                to="moderation.vendor",
            ),
        ),
        migrations.AlterField(
            model_name="vendorcallback",
            name="decision",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="vendor_callbacks",
                to="cases.decision",
            ),
        ),
        migrations.AlterField(
            model_name="vendorcallback",
            name="case",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="vendor_callbacks",
                to="cases.case",
            ),
        ),
        migrations.AlterField(
            model_name="vendorcallback",
            name="payload",
            field=models.JSONField(help_text="The webhook body, fixed at creation."),
        ),
        migrations.AlterModelOptions(
            name="vendorcallback",
            options={"ordering": ["created_at", "id"]},
        ),
        migrations.AddField(
            model_name="vendorcallback",
            name="attempts_before_retry",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="vendorcallback",
            name="last_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="vendorcallback",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="vendorcallback",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="vendorcallback",
            constraint=models.UniqueConstraint(
                fields=("decision", "vendor"), name="one_vendor_callback_per_decision"
            ),
        ),
        migrations.AddIndex(
            model_name="vendorcallback",
            index=models.Index(fields=["state", "created_at"], name="vendor_callback_state_idx"),
        ),
        migrations.AddIndex(
            model_name="vendorcallback",
            index=models.Index(fields=["case", "created_at"], name="vendor_callback_case_idx"),
        ),
        migrations.AddField(
            model_name="enforcement",
            name="attempts_before_retry",
            field=models.PositiveIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name="enforcement",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterModelOptions(
            name="enforcement",
            options={
                "ordering": ["created_at", "id"],
                "permissions": [
                    (
                        "retry_enforcement",
                        "Can retry failed deliveries: enforcements and vendor callbacks (leads)",
                    ),
                    ("bulk_decide", "Can decide many cases at once (leads)"),
                ],
            },
        ),
        migrations.RunPython(keep_pending_enforcements_held, migrations.RunPython.noop),
    ]
