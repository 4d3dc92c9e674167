from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from moderation.admin_audit import AuditedModelAdmin, ReadOnlyModelAdmin
from moderation.errors import DomainError
from queues.admin_forms import QueueClearanceForm, RoutingRuleForm, RulePositionForm, ScoreConditionFormSet
from queues.backtest import backtest_rule
from queues.models import (
    EscalationRoute,
    Queue,
    QueueClearance,
    RoutingRule,
    RuleChangeRequest,
    ScoreCondition,
    snapshot_of,
)
from queues.models.rule_history import CONDITION_FIELDS, SNAPSHOT_FIELDS, SNAPSHOT_FOREIGN_KEYS
from queues.selectors import shadow_scores
from queues.services.rule_changes import (
    approve_rule_change,
    record_rule_change,
    reject_rule_change,
)


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


@admin.register(EscalationRoute)
class EscalationRouteAdmin(AuditedModelAdmin):
    """Per policy, the queue its cases are escalated to first (offered first and preselected on the case)."""

    list_display = ["policy", "queue"]
    autocomplete_fields = []
    list_select_related = ["policy", "queue"]


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


class ScoreConditionInline(admin.StackedInline):
    # Stacked, not tabular: every input gets its own <label> (a table's column header is no label to a screen
    # reader; axe-core refuses it).
    model = ScoreCondition
    formset = ScoreConditionFormSet
    fields = [("source", "source_name"), ("label", "operator", "threshold")]
    extra = 1
    verbose_name = "signal condition"
    verbose_name_plural = "Signal conditions (all must hold)"


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
        "version",
    ]
    list_display_links = ["name"]
    list_editable = ["position"]
    list_filter = ["state", "automation_mode", "target_queue"]
    search_fields = ["name", "description"]
    list_select_related = ["target_queue", "auto_action"]
    inlines = [ScoreConditionInline]
    readonly_fields = ["shadow_precision", "version", "backtest_link", "history", "auto_pause_note"]

    # --- every change is versioned (and may wait for a second admin): `queues.services.rule_changes` ---

    def save_model(self, request, obj, form, change):
        # The rule as it was, read before the admin writes it (its conditions are saved after it, with the
        # inlines, so the version is written in save_related).
        obj._before_snapshot = snapshot_of(RoutingRule.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        rule = form.instance
        try:
            outcome = record_rule_change(
                rule=rule, before=getattr(rule, "_before_snapshot", None), user=request.user
            )
        except DomainError as error:  # the form checks the transition first; this is the last word
            raise PermissionDenied(error.message) from error
        if outcome.request is not None:
            held = outcome.request
            self.message_user(
                request,
                f"This change would raise automatic decisions from {held.current_per_day:.1f} to "
                f"{held.proposed_per_day:.1f} a day (backtest of {held.backtest_days} days): it waits for "
                "another admin's approval (Routing rule change requests). The rule is unchanged until then.",
                messages.WARNING,
            )

    def get_urls(self):
        return [
            path(
                "<int:rule_id>/backtest/",
                self.admin_site.admin_view(self.backtest_view),
                name="queues_routingrule_backtest",
            ),
            *super().get_urls(),
        ]

    def backtest_view(self, request, rule_id: int):
        """What the rule would have done over the last N days (reads only). A POST from the change form
        backtests the form's unsaved changes: the form and its conditions are validated, never saved."""
        rule = get_object_or_404(RoutingRule, pk=rule_id)
        if not self.has_view_permission(request, rule):
            raise PermissionDenied
        proposed, form_errors = None, []
        if request.method == "POST":
            if not self.has_change_permission(request, rule):
                raise PermissionDenied
            days_text = request.POST.get("_backtest_days", "7")
            proposed, form_errors = self._proposed_snapshot(request, rule)
        else:
            days_text = request.GET.get("days", "7")
        result, error = None, ""
        if form_errors:
            error = "Fix the form first: " + "; ".join(form_errors)
        else:
            try:
                result = backtest_rule(proposed or rule, days=int(days_text))
            except ValueError:
                error = "Days must be a whole number."
            except DomainError as refused:
                error = refused.message
        context = {
            **self.admin_site.each_context(request),
            "title": f"Backtest: {rule.name}" + (" (unsaved changes)" if proposed else ""),
            "rule": rule,
            "unsaved": proposed is not None,
            "days": days_text,
            "result": result,
            "error": error,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/queues/routingrule/backtest.html", context)

    def _proposed_snapshot(self, request, rule: RoutingRule) -> tuple[dict | None, list[str]]:
        """The rule as the posted change form would make it, without saving anything."""
        instance = RoutingRule.objects.get(pk=rule.pk)  # a copy the form may change in memory
        snapshot = snapshot_of(instance)
        form = self.get_form(request, instance, change=True)(request.POST, request.FILES, instance=instance)
        form_ok = form.is_valid()
        formsets = [
            formset_class(
                request.POST, request.FILES, instance=instance, prefix=formset_class.get_default_prefix()
            )
            for formset_class, _ in self.get_formsets_with_inlines(request, instance)
        ]
        if not form_ok or not all(formset.is_valid() for formset in formsets):
            errors = [f"{field}: {' '.join(messages_)}" for field, messages_ in form.errors.items()]
            for formset in formsets:
                errors += [str(error) for error in formset.non_form_errors()]
                errors += [
                    f"condition {field}: {' '.join(m)}" for row in formset.errors for field, m in row.items()
                ]
            return None, errors or ["the form is not valid"]
        data = form.cleaned_data
        for name in SNAPSHOT_FIELDS:
            if name in data:
                snapshot[name] = data[name]
        for name in SNAPSHOT_FOREIGN_KEYS:
            if name in data:
                snapshot[name] = data[name].pk if data[name] is not None else None
        for name in ("policies", "vendors"):
            if name in data:
                snapshot[name] = sorted(item.pk for item in data[name])
        snapshot["conditions"] = [
            {name: row.cleaned_data[name] for name in CONDITION_FIELDS}
            for formset in formsets
            for row in formset.forms
            if row.cleaned_data and not row.cleaned_data.get("DELETE")
        ]
        return snapshot, []

    @admin.display(description="Backtest")
    def backtest_link(self, rule: RoutingRule) -> str:
        if rule.pk is None:
            return "Save the rule (as a draft) to backtest it."
        url = reverse("admin:queues_routingrule_backtest", args=[rule.pk])
        # The button submits this change form to the backtest page (nothing is saved): a draft change is
        # tried on the last 7 days before anyone saves it.
        return format_html(
            '<a class="button" href="{}?days=7">Backtest 7 days</a> <a class="button" href="{}?days=30">30 days'
            '</a> <button type="submit" name="_backtest_days" value="7" formaction="{}" formmethod="post">'
            "Backtest the unsaved changes (7 days)</button>",
            url,
            url,
            url,
        )

    @admin.display(description="History (latest first)")
    def history(self, rule: RoutingRule) -> str:
        if rule.pk is None:
            return "—"
        versions = rule.versions.select_related("changed_by").order_by("-number")[:50]
        rows = format_html_join(
            "",
            "<tr><td>v{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    version.number,
                    version.changed_at.strftime("%Y-%m-%d %H:%M"),
                    version.changed_by or version.changed_by_system or "—",
                    version.state,
                    version.note,
                    _conditions_text(version.snapshot),
                )
                for version in versions
            ),
        )
        return format_html(
            "<table><thead><tr><th>Version</th><th>When (UTC)</th><th>Who</th><th>State</th><th>Note</th>"
            "<th>Conditions → outcome</th></tr></thead><tbody>{}</tbody></table>",
            rows or mark_safe("<tr><td colspan='6'>No versions yet.</td></tr>"),
        )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("score_conditions")

    def get_changelist_form(self, request, **kwargs):
        return RulePositionForm

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
        (
            None,
            {
                "fields": ["name", "position", "state", "version", "auto_pause_note", "description"],
                "description": "State says whether the rule runs: draft and paused rules are not evaluated; "
                "a shadow rule is evaluated and its matches logged without acting; a live rule acts. The "
                "automatic decision setting below says what a live rule does about a decision (none, "
                "record it in shadow, or decide). Going live with more automatic decisions than before "
                "may need a second admin's approval.",
            },
        ),
        ("When (empty = any)", {"fields": ["policies", "subject_kinds", "vendors", "languages"]}),
        ("Then", {"fields": ["target_queue", "priority_boost", "sla_hours_override"]}),
        (
            "Automatic decision",
            {
                "fields": [
                    "automation_mode",
                    "auto_policy",
                    "auto_action",
                    "max_automated_per_day",
                    "shadow_precision",
                ]
            },
        ),
        ("Backtest and history", {"fields": ["backtest_link", "history"]}),
    ]


def _conditions_text(snapshot: dict) -> str:
    conditions = "; ".join(
        f"[{row['source']}{':' + row['source_name'] if row['source_name'] else ''}] {row['label']} "
        f"{row['operator']} {row['threshold']:g}"
        for row in snapshot.get("conditions") or ()
    )
    outcome = f"queue {snapshot.get('target_queue') or 'default'}"
    if snapshot.get("automation_mode") != "off":
        outcome += f", decide ({snapshot.get('automation_mode')}) action {snapshot.get('auto_action')}"
    return f"{conditions or 'any'} → {outcome}"


@admin.register(RuleChangeRequest)
class RuleChangeRequestAdmin(ReadOnlyModelAdmin):
    """Changes that would raise a live rule's automatic decisions too much: another admin approves them."""

    list_display = [
        "id",
        "rule",
        "state",
        "requested_by",
        "requested_at",
        "current_per_day",
        "proposed_per_day",
        "decided_by",
    ]
    list_filter = ["state"]
    list_select_related = ["rule", "requested_by", "decided_by"]
    actions = ["approve", "reject"]
    readonly_fields = ["proposed_summary"]

    @admin.display(description="Proposed")
    def proposed_summary(self, request_row: RuleChangeRequest) -> str:
        return _conditions_text(request_row.proposed)

    def has_approve_permission(self, request):
        return request.user.is_superuser or request.user.has_perm("queues.change_routingrule")

    has_reject_permission = has_approve_permission

    @admin.action(description="Approve the selected changes (not your own)", permissions=["approve"])
    def approve(self, request, queryset):
        self._decide(request, queryset, approve_rule_change, "approved")

    @admin.action(description="Reject the selected changes", permissions=["reject"])
    def reject(self, request, queryset):
        self._decide(request, queryset, reject_rule_change, "rejected")

    def _decide(self, request, queryset, service, done: str) -> None:
        for change in queryset:
            try:
                service(request_id=change.pk, user=request.user)
            except DomainError as refused:
                self.message_user(request, f"Change {change.pk}: {refused.message}", messages.ERROR)
            else:
                self.message_user(request, f"Change {change.pk} {done}.", messages.SUCCESS)
