from django import forms
from django.contrib import admin

from moderation.admin_audit import AuditedModelAdmin
from queues.models import Queue, QueueClearance, RoutingRule, ScoreCondition, automation_condition_errors
from queues.selectors import shadow_scores


@admin.register(Queue)
class QueueAdmin(AuditedModelAdmin):
    """Members work a queue (directly, or through a team group); restricted queues also need a clearance."""

    list_display = ["name", "slug", "sla_hours", "is_default", "is_restricted", "is_active"]
    list_filter = ["is_default", "is_restricted", "is_active"]
    search_fields = ["name", "slug", "description"]
    filter_horizontal = ["members", "member_groups"]
    prepopulated_fields = {"slug": ["name"]}

    def get_readonly_fields(self, request, obj=None):
        # Admins see every unrestricted queue: lifting a restriction would hand them its cases without a
        # clearance. Only a superuser may lift one (tightening is open to all admins).
        if obj is not None and obj.is_restricted and not request.user.is_superuser:
            return ["is_restricted"]
        return []


class QueueClearanceForm(forms.ModelForm):
    granter = None  # set per request by the admin

    class Meta:
        model = QueueClearance
        fields = ["queue", "user", "expires_at", "reason"]

    def clean(self):
        cleaned = super().clean()
        granter = self.granter
        if granter is not None and not granter.is_superuser and cleaned.get("user") == granter:
            raise forms.ValidationError({"user": "Nobody clears themselves: another admin has to grant it."})
        return cleaned


@admin.register(QueueClearance)
class QueueClearanceAdmin(AuditedModelAdmin):
    """Who was vetted for which restricted queue, by whom and until when. Every grant and revoke is audited.

    Four eyes: nobody but a superuser grants or extends their own clearance (revoking it is always allowed).
    """

    form = QueueClearanceForm
    list_display = ["user", "queue", "granted_by", "granted_at", "expires_at", "reason"]
    list_filter = ["queue"]
    search_fields = ["user__username", "reason"]
    autocomplete_fields = ["user"]
    readonly_fields = ["granted_by", "granted_at"]
    list_select_related = ["user", "queue", "granted_by"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.granter = request.user
        return form

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.user_id == request.user.pk and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.granted_by = request.user
        super().save_model(request, obj, form, change)


class ScoreConditionFormSet(forms.BaseInlineFormSet):
    """The rule's conditions as posted, checked together: an automated rule needs attributable ones."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return  # each condition's own errors first (a vendor condition without a name among them)
        rule = self.instance
        if rule.automation_mode == RoutingRule.AutomationMode.OFF:
            return
        kept = [
            form.instance
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (self.can_delete and self._should_delete_form(form))
        ]
        problems = automation_condition_errors(kept)
        if problems:
            raise forms.ValidationError(problems)


class ScoreConditionInline(admin.TabularInline):
    model = ScoreCondition
    formset = ScoreConditionFormSet
    fields = ["source", "source_name", "label", "operator", "threshold"]
    extra = 1


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        # The admin's fieldsets choose what is shown; these are the fields the check reads.
        fields = ["policies", "target_queue"]

    def clean(self):
        cleaned = super().clean()
        # The policies are a many-to-many field, saved after the rule: checked here, before anything is.
        restricted = [policy.name for policy in cleaned.get("policies") or [] if policy.is_restricted]
        target = cleaned.get("target_queue")
        if restricted and target is not None and not target.is_restricted:
            self.add_error(
                "target_queue",
                f"{', '.join(restricted)} {'is' if len(restricted) == 1 else 'are'} restricted: a rule for "
                "it must send cases to a restricted queue.",
            )
        return cleaned


@admin.register(RoutingRule)
class RoutingRuleAdmin(AuditedModelAdmin):
    form = RoutingRuleForm
    list_display = [
        "position",
        "name",
        "conditions",
        "target_queue",
        "priority_boost",
        "automation_mode",
        "auto_action",
        "shadow_precision",
        "state",
    ]
    list_display_links = ["name"]
    list_editable = ["position"]
    list_filter = ["state", "automation_mode", "target_queue"]
    search_fields = ["name", "description"]
    filter_horizontal = ["policies", "vendors"]
    list_select_related = ["target_queue", "auto_action"]
    inlines = [ScoreConditionInline]
    readonly_fields = ["shadow_precision"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("score_conditions")

    @admin.display(description="Signal conditions (source: label)")
    def conditions(self, rule: RoutingRule) -> str:
        shown = "; ".join(str(condition) for condition in rule.score_conditions.all()) or "—"
        if rule.automation_mode != RoutingRule.AutomationMode.OFF and not rule.automation_is_attributable:
            return f"NOT DECIDING (needs attributable conditions): {shown}"
        return shown

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
        (None, {"fields": ["name", "position", "state", "description"]}),
        ("When (empty = any)", {"fields": ["policies", "subject_kinds", "vendors", "languages"]}),
        ("Then", {"fields": ["target_queue", "priority_boost", "sla_hours_override"]}),
        (
            "Automatic decision",
            {"fields": ["automation_mode", "auto_policy", "auto_action", "shadow_precision"]},
        ),
    ]
