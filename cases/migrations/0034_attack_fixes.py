from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("cases", "0033_oversight_rollups")]

    operations = [
        migrations.AddIndex(
            model_name="report",
            index=models.Index(fields=["vendor", "reporter_id"], name="report_reporter_idx"),
        ),
    ]
