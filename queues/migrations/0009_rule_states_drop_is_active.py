# is_active was turned into `state` by 0008; dropped in its own migration so that PostgreSQL never alters the
# table in the transaction that just updated its rows.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("queues", "0008_rule_states"),
    ]

    operations = [
        migrations.RemoveField(model_name="routingrule", name="is_active"),
    ]
