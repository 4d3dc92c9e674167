from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Count

from cases import bank_admin, event_admin, model_admin  # noqa: F401  (register the bank, event and model admin pages)
from cases.models import (
    Case,
    ContextProvider,
    Decision,
    Enforcement,
    LegalHold,
    MediaFile,
    OutboxMessage,
    Report,
    Scorer,
    Signal,
    Strike,
    Subject,
    SubjectVersion,
    Tag,
    VendorCallback,
)
from cases.services import outbox
from cases.services.protection import set_subject_protection
from moderation.admin_audit import AuditedModelAdmin, ReadOnlyModelAdmin
from moderation.admin_secrets import WriteOnlySecretsAdmin, write_only_secrets_form
from moderation.errors import DomainError
from queues.selectors import visible_cases


class VisibleCasesAdmin(ReadOnlyModelAdmin):
    """Evidence pages list only what the user may see in the review UI (same rule: `queues.selectors`).

    Without this, a view permission on cases would show restricted queues' content through the admin.
    `case_path` leads from the model to its case.
    """

    case_path = "case"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        visible = visible_cases(request.user).values("pk")
        allowed = self.model.objects.filter(**{f"{self.case_path}__in": visible}).values("pk")
        return queryset.filter(pk__in=allowed)


class ReportInline(admin.TabularInline):
    model = Report
    extra = 0
    can_delete = False
    fields = [
        "id",
        "vendor",
        "external_id",
        "reason",
        "reporter_id",
        "subject_version",
        "carried_content",
        "received_at",
    ]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class SignalInline(admin.TabularInline):
    model = Signal
    extra = 0
    can_delete = False
    fields = ["source", "source_name", "model", "model_version", "label", "score", "value", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class DecisionInline(admin.TabularInline):
    model = Decision
    extra = 0
    can_delete = False
    fields = ["created_at", "mode", "policy", "action", "automated", "decided_by", "rule", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(VisibleCasesAdmin):
    case_path = "pk"

    list_display = [
        "id",
        "subject",
        "status",
        "policy",
        "queue",
        "priority",
        "report_count",
        "reporter_count",
        "sla_due_at",
        "assignee",
        "opened_at",
    ]
    list_filter = ["status", "queue", "policy"]
    search_fields = ["=id", "subject__external_id", "subject__author_id"]
    list_select_related = ["subject", "policy", "queue", "assignee"]
    date_hierarchy = "opened_at"
    inlines = [ReportInline, SignalInline, DecisionInline]


@admin.register(Report)
class ReportAdmin(VisibleCasesAdmin):
    list_display = ["id", "vendor", "external_id", "reason", "subject", "case", "received_at"]
    list_filter = ["vendor", "reason"]
    search_fields = ["=id", "external_id", "subject__external_id", "reporter_id"]
    list_select_related = ["vendor", "subject", "case"]
    date_hierarchy = "received_at"


class SubjectVersionInline(admin.TabularInline):
    model = SubjectVersion
    extra = 0
    can_delete = False
    fields = ["version", "vendor", "captured_at", "author_id", "text", "media_urls", "url"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class ProtectionActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=200, help_text="Why (needed to protect).")


@admin.register(Subject)
class SubjectAdmin(VisibleCasesAdmin):
    """Leads mark subjects protected (automation never acts on them, only leads decide them) from the list,
    with a reason; audited."""

    case_path = "cases"

    list_display = [
        "id",
        "kind",
        "external_id",
        "author_id",
        "language",
        "content_version",
        "is_protected",
        "last_seen_at",
    ]
    list_filter = ["kind", "language", "is_protected"]
    search_fields = ["external_id", "author_id"]
    inlines = [SubjectVersionInline]
    action_form = ProtectionActionForm
    actions = ["protect", "unprotect"]

    def has_protect_permission(self, request):
        return request.user.is_superuser or request.user.has_perm("cases.act_on_protected")

    @admin.action(
        description="Protect: never actioned automatically, decided by leads only (give a reason)",
        permissions=["protect"],
    )
    def protect(self, request, queryset):
        self._set_protection(request, queryset, protected=True)

    @admin.action(description="Remove protection", permissions=["protect"])
    def unprotect(self, request, queryset):
        self._set_protection(request, queryset, protected=False)

    def _set_protection(self, request, queryset, *, protected: bool) -> None:
        try:
            changed = set_subject_protection(
                subject_ids=list(queryset.values_list("pk", flat=True)),
                protected=protected,
                reason=request.POST.get("reason", ""),
                user=request.user,
            )
        except DomainError as refused:
            self.message_user(request, refused.message, messages.ERROR)
            return
        self.message_user(request, f"{changed} subject(s) {'protected' if protected else 'unprotected'}.")


class RestrictedContentSourceMixin:
    """Sources that receive restricted content (child safety...) are a superuser's to configure: others may
    neither set the flag nor change (or delete) a source that has it, whose URL and credentials decide where
    that content goes."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("receives_restricted_content")
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.receives_restricted_content and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.receives_restricted_content and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(Scorer)
class ScorerAdmin(RestrictedContentSourceMixin, WriteOnlySecretsAdmin):
    form = write_only_secrets_form(Scorer, ("auth_value",))
    list_display = ["name", "kind", "is_enabled", "url", "response_format", "timeout_seconds"]
    list_filter = ["kind", "is_enabled"]
    list_editable = ["is_enabled"]
    search_fields = ["name", "url", "model_name"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "kind",
                    "is_enabled",
                    "subject_kinds",
                    "label_prefix",
                    "receives_restricted_content",
                ]
            },
        ),
        (
            "HTTP moderation API",
            {
                "fields": [
                    "url",
                    "auth_header",
                    "auth_value",
                    "timeout_seconds",
                    "request_format",
                    "response_format",
                    "response_path",
                    "model_name",
                    "model_version",
                ],
                "description": "Only for HTTP scorers. Calls go through the SSRF-guarded client.",
            },
        ),
    ]


@admin.register(ContextProvider)
class ContextProviderAdmin(RestrictedContentSourceMixin, WriteOnlySecretsAdmin):
    form = write_only_secrets_form(ContextProvider, ("auth_value",))
    list_display = ["name", "is_enabled", "url_template", "timeout_seconds"]
    list_filter = ["is_enabled"]
    list_editable = ["is_enabled"]
    search_fields = ["name", "url_template"]


@admin.register(Decision)
class DecisionAdmin(VisibleCasesAdmin):
    """Every verdict, live and shadow: leads compare automated rules with what agents decided."""

    list_display = ["created_at", "case", "mode", "automated", "action", "policy", "rule", "decided_by"]
    list_filter = ["mode", "automated", "action", "policy", "rule"]
    search_fields = ["=case__id", "reason", "notes"]
    list_select_related = ["case", "action", "policy", "rule", "decided_by"]
    date_hierarchy = "created_at"


@admin.register(Tag)
class TagAdmin(AuditedModelAdmin):
    """Curated tags are offered to agents first (e.g. high-profile, lang:de, campaign:x); agents add free ones."""

    list_display = ("slug", "name", "is_curated", "is_protected", "subject_count", "created_at")
    list_filter = ("is_curated", "is_protected")
    search_fields = ("slug", "name")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(subject_total=Count("subject_tags"))

    @admin.display(description="subjects", ordering="subject_total")
    def subject_count(self, obj) -> int:
        return obj.subject_total


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyModelAdmin):
    """Every legal hold, active and released (placed and released from the case page, by leads)."""

    list_display = ("__str__", "placed_by", "placed_at", "released_by", "released_at")
    list_filter = (("released_at", admin.EmptyFieldListFilter),)

    # Holds name restricted cases and subjects too, with a reason: superusers only, like media copies.
    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_module_permission = has_view_permission


@admin.register(MediaFile)
class MediaFileAdmin(ReadOnlyModelAdmin):
    """Stored copies of reported media (served to agents blurred; never shown here)."""

    list_display = ("url", "state", "content_type", "size", "fetched_at")

    # Keyed by URL, not by case: nothing here says whose queue it belongs to, so only superusers list them.
    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_module_permission = has_view_permission
    list_filter = ("state", "content_type")
    search_fields = ("url",)
    exclude = ("content",)


class OutboxAdmin(VisibleCasesAdmin):
    """Deliveries of one outbox kind (read-only). Failed ones can be retried (same body, same idempotency key)
    by leads (`cases.retry_enforcement`, for both kinds)."""

    kind: outbox.Kind
    list_filter = ["state"]
    search_fields = ["idempotency_key"]
    actions = ["retry_failed"]

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("cases.retry_enforcement")

    @admin.action(description="Retry selected failed deliveries", permissions=["retry"])
    def retry_failed(self, request, queryset):
        retried = sum(
            1
            for pk in queryset.filter(state=OutboxMessage.State.FAILED).values_list("pk", flat=True)
            if outbox.retry(kind=self.kind, message_id=pk, user=request.user)
        )
        self.message_user(request, f"{retried} deliver{'y' if retried == 1 else 'ies'} queued again.")


@admin.register(Enforcement)
class EnforcementAdmin(OutboxAdmin):
    """Deliveries of decisions to the platform."""

    kind = outbox.ENFORCEMENT
    case_path = "decision__case"
    list_display = (
        "idempotency_key",
        "case_id",
        "kind",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "created_at",
    )
    list_filter = ("state", "kind")


@admin.register(VendorCallback)
class VendorCallbackAdmin(OutboxAdmin):
    """Outcomes sent to the vendors that are parties to a case."""

    kind = outbox.VENDOR_CALLBACK
    list_display = (
        "idempotency_key",
        "case_id",
        "vendor",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "created_at",
    )
    list_filter = ("state", "vendor")
    list_select_related = ["vendor"]


@admin.register(Strike)
class StrikeAdmin(VisibleCasesAdmin):
    case_path = "decision__case"

    list_display = ("author_id", "policy", "created_at", "expires_at", "removed_at", "removed_reason")
    list_filter = ("policy",)
    search_fields = ("author_id",)
