# Each action has its own shortcut key on the review page, the same under every policy (until now keys 1-9
# were positions in the list a policy offered, so "2" meant different actions under different policies).
#
# Existing actions get stable keys: the oldest active "No violation" action gets 0 (further active ones get
# none: only one can hold 0, and the admin asks for it when they are saved); the other active actions, except
# escalation (which has the page's own key, e), get 1-9 in creation order; any beyond nine and inactive ones
# get none (an admin can give them a letter).

from django.db import migrations, models

SAFE_KEYS = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "d", "f", "g", "h", "i", "j", "k", "l", "m",
    "o", "p", "q", "t", "u", "v", "w", "x", "y", "z",
]


def give_actions_stable_keys(apps, schema_editor):
    Action = apps.get_model("moderation", "Action")
    active = Action.objects.filter(is_active=True).order_by("pk")
    dismissal = active.filter(kind="no_violation").first()
    if dismissal is not None:
        Action.objects.filter(pk=dismissal.pk).update(shortcut_key="0")
    others = active.exclude(kind__in=["no_violation", "escalate"]).values_list("pk", flat=True)
    for key, pk in zip("123456789", others, strict=False):
        Action.objects.filter(pk=pk).update(shortcut_key=key)


class Migration(migrations.Migration):

    dependencies = [
        ("moderation", "0011_policy_is_restricted"),
    ]

    operations = [
        migrations.AddField(
            model_name="action",
            name="shortcut_key",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Chooses this action on the review page, the same key under every policy. One digit "
                "or lower-case letter, not / ? c e n r s (the page's own keys); 0 is always “No violation”. "
                "Empty: no key.",
                max_length=1,
            ),
        ),
        migrations.RunPython(give_actions_stable_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="action",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_active", True), models.Q(("shortcut_key", ""), _negated=True)),
                fields=("shortcut_key",),
                name="action_shortcut_key_unique_among_active",
                violation_error_message="Another active action already has this shortcut key.",
            ),
        ),
        migrations.AddConstraint(
            model_name="action",
            constraint=models.CheckConstraint(
                condition=models.Q(("shortcut_key", ""), ("shortcut_key__in", SAFE_KEYS), _connector="OR"),
                name="action_shortcut_key_is_safe",
            ),
        ),
        migrations.AddConstraint(
            model_name="action",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "no_violation"), models.Q(("shortcut_key", "0"), _negated=True), _connector="OR"),
                    models.Q(models.Q(("kind", "escalate"), _negated=True), ("shortcut_key", ""), _connector="OR"),
                ),
                name="action_shortcut_key_fits_kind",
            ),
        ),
    ]
