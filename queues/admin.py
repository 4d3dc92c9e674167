from django.contrib import admin

from moderation.admin_audit import AuditedModelAdmin
from queues.models import Queue, RoutingRule, ScoreCondition


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
        "is_active",
    ]
    list_display_links = ["name"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active", "automation_mode", "target_queue"]
    search_fields = ["name", "description"]
    filter_horizontal = ["policies", "vendors"]
    list_select_related = ["target_queue", "auto_action"]
    inlines = [ScoreConditionInline]
    fieldsets = [
        (None, {"fields": ["name", "position", "is_active", "description"]}),
        ("When (empty = any)", {"fields": ["policies", "subject_kinds", "vendors", "languages"]}),
        ("Then", {"fields": ["target_queue", "priority_boost", "sla_hours_override"]}),
        ("Automatic decision", {"fields": ["automation_mode", "auto_policy", "auto_action"]}),
    ]
