"""The queues that must exist from the start: appeals, restricted appeals and restricted triage.

Their member team is the Leads group, so a lead sees appeals without anyone setting it up; the restricted ones
still need a dated clearance per person (`QueueClearance`).
"""

from django.conf import settings
from django.db import migrations


def standard_queues(apps, schema_editor):
    Queue = apps.get_model("queues", "Queue")
    Group = apps.get_model("auth", "Group")
    leads, _ = Group.objects.get_or_create(name="Leads")
    for slug, name, restricted, description in (
        (settings.APPEALS_QUEUE_SLUG, "Appeals", False, "Users contesting decisions."),
        (
            settings.APPEALS_RESTRICTED_QUEUE_SLUG,
            "Appeals (restricted)",
            True,
            "Appeals of decisions under restricted policies (child safety...): cleared reviewers only.",
        ),
        (
            settings.RESTRICTED_TRIAGE_QUEUE_SLUG,
            "Restricted triage",
            True,
            "Restricted cases no routing rule sent to a restricted queue: cleared reviewers only.",
        ),
    ):
        queue, created = Queue.objects.get_or_create(
            slug=slug,
            defaults={"name": name, "is_restricted": restricted, "sla_hours": 72, "description": description},
        )
        if restricted and not queue.is_restricted:
            queue.is_restricted = True
            queue.save(update_fields=["is_restricted"])
        queue.member_groups.add(leads)


class Migration(migrations.Migration):
    dependencies = [
        ("queues", "0004_queue_clearance"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(standard_queues, migrations.RunPython.noop)]
