# Routing rules get a state (draft → shadow → live, paused) instead of is_active: active rules become live,
# inactive ones paused (so nothing that was acting stops, and nothing that was off starts). Versions, the
# match log, the daily-cap counter and pending change requests are new tables.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def states_from_is_active(apps, schema_editor):
    RoutingRule = apps.get_model("queues", "RoutingRule")
    RoutingRule.objects.filter(is_active=True).update(state="live")
    RoutingRule.objects.filter(is_active=False).update(state="paused")


def is_active_from_states(apps, schema_editor):
    RoutingRule = apps.get_model("queues", "RoutingRule")
    RoutingRule.objects.update(is_active=False)
    RoutingRule.objects.filter(state="live").update(is_active=True)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0023_subject_protected"),
        ("moderation", "0014_vendor_content_authority"),
        ("queues", "0007_bank_signals"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="routingrule",
            name="auto_pause_note",
            field=models.CharField(blank=True, editable=False, max_length=300),
        ),
        migrations.AddField(
            model_name="routingrule",
            name="auto_paused_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="routingrule",
            name="max_automated_per_day",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Most automatic decisions this rule may make in a UTC day; further matches go to people. Empty: the platform default (RULE_DEFAULT_DAILY_CAP).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="routingrule",
            name="state",
            field=models.CharField(
                choices=[
                    ("draft", "Draft: not evaluated"),
                    ("shadow", "Shadow: evaluated and logged, never applied"),
                    ("live", "Live: applied"),
                    ("paused", "Paused: not evaluated"),
                ],
                default="draft",
                help_text="Draft and paused rules are not evaluated. A shadow rule is evaluated on every case and its matches are logged (what it would route and decide) without doing anything. A live rule acts: it routes, and decides if its automatic decision (below) is live.",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="routingrule",
            name="version",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AlterField(
            model_name="routingrule",
            name="automation_mode",
            field=models.CharField(
                choices=[
                    ("off", "No automatic decision"),
                    ("shadow", "Shadow: record what it would decide"),
                    ("live", "Live: decide automatically"),
                ],
                default="off",
                help_text="What a live rule's match does about a decision: none, record what it would decide (shadow), or decide automatically (live). Independent of the rule's state: a shadow-state rule never decides, whatever this says.",
                max_length=8,
            ),
        ),
        migrations.CreateModel(
            name="RoutingRuleVersion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                ("snapshot", models.JSONField()),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("draft", "Draft: not evaluated"),
                            ("shadow", "Shadow: evaluated and logged, never applied"),
                            ("live", "Live: applied"),
                            ("paused", "Paused: not evaluated"),
                        ],
                        max_length=8,
                    ),
                ),
                (
                    "changed_by_system",
                    models.CharField(blank=True, help_text="e.g. rule-guard (auto-pause)", max_length=60),
                ),
                ("changed_at", models.DateTimeField(auto_now_add=True)),
                ("note", models.CharField(blank=True, max_length=300)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="versions",
                        to="queues.routingrule",
                    ),
                ),
            ],
            options={
                "ordering": ["rule", "-number"],
                "constraints": [
                    models.UniqueConstraint(fields=("rule", "number"), name="rule_version_number_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="RuleAutomationDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("decided", models.PositiveIntegerField(default=0)),
                (
                    "rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="queues.routingrule"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("rule", "day"), name="rule_automation_day_unique")
                ],
            },
        ),
        migrations.CreateModel(
            name="RuleChangeRequest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "base_version",
                    models.PositiveIntegerField(help_text="The rule version the change was made against."),
                ),
                ("proposed", models.JSONField()),
                (
                    "current_per_day",
                    models.FloatField(help_text="Automatic decisions a day, current version (backtest)."),
                ),
                (
                    "proposed_per_day",
                    models.FloatField(help_text="Automatic decisions a day, proposed version (backtest)."),
                ),
                ("backtest_days", models.PositiveIntegerField()),
                (
                    "state",
                    models.CharField(
                        choices=[("pending", "Pending"), ("approved", "Approved"), ("rejected", "Rejected")],
                        default="pending",
                        max_length=8,
                    ),
                ),
                ("requested_at", models.DateTimeField(auto_now_add=True)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("note", models.CharField(blank=True, max_length=300)),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="change_requests",
                        to="queues.routingrule",
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("state", "pending")),
                        fields=("rule",),
                        name="one_pending_change_per_rule",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="RuleMatch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("rule_version", models.PositiveIntegerField()),
                ("mode", models.CharField(choices=[("live", "Live"), ("shadow", "Shadow")], max_length=8)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("routed", "Routed the case"),
                            ("decided", "Decided automatically"),
                            ("would_route", "Would have routed (shadow)"),
                            ("would_decide", "Would have decided (shadow)"),
                            ("capped", "Daily cap reached: sent to people"),
                            ("protected", "Protected subject: sent to people"),
                            ("skipped", "Passed over (case held or already decided)"),
                        ],
                        max_length=12,
                    ),
                ),
                ("matched_at", models.DateTimeField()),
                (
                    "action",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="moderation.action",
                    ),
                ),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="cases.case"
                    ),
                ),
                (
                    "queue",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="queues.queue",
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="matches",
                        to="queues.routingrule",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["rule", "matched_at"], name="rule_match_time_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("rule", "case", "rule_version"), name="rule_match_once_per_version"
                    )
                ],
            },
        ),
        migrations.RunPython(states_from_is_active, is_active_from_states),
    ]
