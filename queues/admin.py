from django.contrib import admin

from moderation.admin_audit import AuditedModelAdmin
from queues.models import Queue, RoutingRule, ScoreCondition
from queues.selectors import shadow_scores


@admin.register(Queue)
class QueueAdmin(AuditedModelAdmin):
    list_display = ["name", "slug", "sla_hours", "is_default", "is_restricted", "is_active"]
    list_filter = ["is_default", "is_restricted", "is_active"]
    search_fields = ["name", "slug", "description"]
    filter_horizontal = ["members", "member_groups"]
    prepopulated_fields = {"slug": ["name"]}


class ScoreConditionInline(admin.TabularInline):
    model = ScoreCondition
    extra = 1


@admin.register(RoutingRule)
class RoutingRuleAdmin(AuditedModelAdmin):
    list_display = [
        "position",
        "name",
        "target_queue",
        "priority_boost",
        "automation_mode",
        "auto_action",
        "shadow_precision",
        "is_active",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "automation_mode", "target_queue"]
    search_fields = ["name", "description"]
    filter_horizontal = ["policies", "vendors"]
    list_select_related = ["target_queue", "auto_action"]
    inlines = [ScoreConditionInline]
    readonly_fields = ["shadow_precision"]

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        # Two queries for the whole page, attached to the rows being shown (no N+1, no shared state).
        scores = shadow_scores([rule.pk for rule in changelist.result_list])
        for rule in changelist.result_list:
            rule._shadow_score = scores[rule.pk]
        return changelist

    @admin.display(description="Shadow: agreed / reviewed")
    def shadow_precision(self, rule: RoutingRule) -> str:
        if rule.pk is None or rule.automation_mode != RoutingRule.AutomationMode.SHADOW:
            return "—"
        score = getattr(rule, "_shadow_score", None) or shadow_scores([rule.pk])[rule.pk]
        if not score.reviewed:
            return f"{score.recorded} recorded, none reviewed by a person yet"
        return f"{score.agreed}/{score.reviewed} = {score.precision:.0%} ({score.recorded} recorded)"

    fieldsets = [
        (None, {"fields": ["name", "position", "is_active", "description"]}),
        ("When (empty = any)", {"fields": ["policies", "subject_kinds", "vendors", "languages"]}),
        ("Then", {"fields": ["target_queue", "priority_boost", "sla_hours_override"]}),
        (
            "Automatic decision",
            {"fields": ["automation_mode", "auto_policy", "auto_action", "shadow_precision"]},
        ),
    ]
