# Signal conditions name the source they trust (scorer, vendor, context provider, system fact).
#
# Existing conditions become `scorer` conditions: the safe reading. Until now a vendor-sent score with the
# same label satisfied them too; from here on only our own scorers do, so a condition can stop matching
# (the case goes to a later rule or the default queue, i.e. to people) but no vendor claim can newly trigger
# anything. The one exception is `author.active_strikes`, which was always computed by the system itself.
# Conditions that were meant for context facts (e.g. account_age_days) need their source set to "context"
# in the admin.

from django.db import migrations, models


def system_facts_are_system(apps, schema_editor):
    ScoreCondition = apps.get_model("queues", "ScoreCondition")
    ScoreCondition.objects.filter(label="author.active_strikes").update(source="system")


class Migration(migrations.Migration):

    dependencies = [
        ("queues", "0005_appeals_and_restricted_queues"),
    ]

    operations = [
        migrations.AddField(
            model_name="scorecondition",
            name="source",
            field=models.CharField(
                choices=[
                    ("scorer", "ML scorer (ours)"),
                    ("vendor_score", "Vendor-sent score (a claim)"),
                    ("context", "Context provider"),
                    ("system", "System fact"),
                ],
                default="scorer",
                help_text="Whose signal this condition trusts.",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="scorecondition",
            name="source_name",
            field=models.CharField(
                blank=True,
                help_text="Only this scorer (its name), vendor (its slug) or context provider (its name); empty: "
                "any source of that kind. Automatic decisions on vendor scores must name the vendor.",
                max_length=120,
            ),
        ),
        migrations.RunPython(system_facts_are_system, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="scorecondition",
            constraint=models.CheckConstraint(
                condition=models.Q(("source__in", ["scorer", "vendor_score", "context", "system"])),
                name="score_condition_names_its_source",
            ),
        ),
    ]
