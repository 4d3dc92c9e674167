from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.contrib.auth.views import redirect_to_login
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from moderation.admin_audit import AuditedModelAdmin, ReadOnlyModelAdmin
from moderation.admin_secrets import WriteOnlySecretsAdmin, write_only_secrets_form
from moderation.audit import Actor
from moderation.comfort import org_defaults
from moderation.models import (
    Action,
    AuditEvent,
    EnforcementEndpoint,
    MessageTemplate,
    OrgDefaults,
    Policy,
    Vendor,
    VendorToken,
)
from moderation.roles import ADMIN, ROLE_LABELS
from moderation.services import issue_vendor_token, revoke_vendor_tokens
from moderation.two_factor import reset_two_factor
from queues.selectors import visible_audit_events

admin.site.site_header = "Moderation review — administration"
admin.site.site_title = "Moderation admin"
_django_admin_login = admin.site.login


def _admin_login(request, extra_context=None):
    """One way in: the admin's own login form would skip the throttling and failure audit of /accounts/login/
    (and two-factor follows from the middleware either way). A logged-in user without admin access still
    gets Django's "not authorised" page."""
    if request.method == "GET" and request.user.is_authenticated:
        return _django_admin_login(request, extra_context)
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"), settings.LOGIN_URL)


admin.site.login = _admin_login


@admin.register(Action)
class ActionAdmin(AuditedModelAdmin):
    list_display = ["name", "code", "shortcut_key", "kind", "enforcement_type", "duration_hours", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "code", "enforcement_type"]
    prepopulated_fields = {"code": ["name"]}


@admin.register(Policy)
class PolicyAdmin(AuditedModelAdmin):
    list_display = [
        "name",
        "code",
        "severity",
        "sla_hours",
        "requires_second_review",
        "dsa_category",
        "retention_days",
        "is_active",
    ]
    list_filter = ["severity", "requires_second_review", "is_active", "dsa_category"]
    search_fields = ["name", "code", "description"]
    filter_horizontal = ["allowed_actions"]
    prepopulated_fields = {"code": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "code", "description", "is_active"]}),
        ("Handling", {"fields": ["severity", "sla_hours", "allowed_actions", "requires_second_review"]}),
        (
            "Transparency (EU DSA statements of reasons)",
            {
                "fields": [
                    "user_facing_text",
                    "dsa_category",
                    "dsa_ground",
                    "dsa_legal_ground",
                    "dsa_contractual_ground",
                    "dsa_explanation",
                    "dsa_also_illegal",
                ]
            },
        ),
        ("Learning", {"fields": ["target_precision"]}),
        ("Retention", {"fields": ["retention_days"]}),
    ]


class VendorTokenInline(admin.TabularInline):
    model = VendorToken
    extra = 0
    can_delete = False
    fields = ["prefix", "label", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # tokens are issued from the Vendor tokens page, which shows the plaintext once


@admin.register(Vendor)
class VendorAdmin(WriteOnlySecretsAdmin):
    form = write_only_secrets_form(
        Vendor,
        ("signing_secret", "callback_secret"),
        help_texts={
            "require_signature": "Refuse requests without a valid X-Signature: v2 HMAC-SHA256 of timestamp, "
            "method, path, query and body (docs/api.md)."
        },
    )
    list_display = [
        "name",
        "slug",
        "reliability",
        "measured_accuracy",
        "is_active",
        "is_content_authority",
        "active_tokens",
        "created_at",
    ]
    list_filter = ["is_active", "is_content_authority", "dsa_source_type"]
    search_fields = ["name", "slug", "contact"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [VendorTokenInline]
    readonly_fields = ["upheld_count", "rejected_count"]

    def get_readonly_fields(self, request, obj=None):
        # Whose word about a subject's content is final decides whom strikes hit: a superuser's call.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if request.user.is_superuser else [*fields, "is_content_authority"]

    @admin.display(description="Upheld (measured)")
    def measured_accuracy(self, obj: Vendor) -> str:
        judged = obj.upheld_count + obj.rejected_count
        return f"{obj.upheld_count / judged:.0%} of {judged}" if judged else "—"

    @admin.display(description="Active tokens", ordering="active_token_count")
    def active_tokens(self, obj: Vendor) -> int:
        return obj.active_token_count

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(active_token_count=Count("tokens", filter=Q(tokens__revoked_at__isnull=True)))
        )


@admin.register(VendorToken)
class VendorTokenAdmin(admin.ModelAdmin):
    list_display = ["vendor", "prefix", "label", "created_at", "last_used_at", "status"]
    list_filter = ["vendor", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["vendor__name", "label", "prefix"]
    list_select_related = ["vendor"]
    actions = ["revoke"]
    fields = ["vendor", "label"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["vendor", "label", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["vendor", "label"]
        return ["vendor", "label", "prefix", "created_at", "last_used_at", "revoked_at"]

    @admin.display(description="Status")
    def status(self, obj: VendorToken) -> str:
        return "revoked" if obj.is_revoked else "active"

    def save_model(self, request, obj, form, change):
        if change:
            return  # tokens are immutable; only revocation changes them
        token, plaintext = issue_vendor_token(
            vendor=obj.vendor, label=obj.label, actor=Actor.for_user(request.user)
        )
        obj.pk = token.pk
        obj.__dict__.update(token.__dict__)
        messages.warning(
            request,
            format_html(
                "New token for {}: <code>{}</code> — copy it now, it is stored only as a hash and will not be "
                "shown again.",
                obj.vendor,
                plaintext,
            ),
        )

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: a deleted token would leave no trace of who used it

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = revoke_vendor_tokens(
            token_ids=list(queryset.values_list("pk", flat=True)), actor=Actor.for_user(request.user)
        )
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ["at", "actor_type", "actor_label", "verb", "target_type", "target_id", "case_id"]
    list_filter = ["verb", "actor_type", "target_type"]
    search_fields = ["actor_label", "target_id", "verb"]
    date_hierarchy = "at"
    show_full_result_count = False  # counting a large log on every page is slow

    def get_queryset(self, request):
        return visible_audit_events(request.user, super().get_queryset(request))


EnforcementEndpointForm = write_only_secrets_form(
    EnforcementEndpoint, ("secret",), fields=["name", "url", "secret", "is_active", "timeout_seconds"]
)


@admin.register(EnforcementEndpoint)
class EnforcementEndpointAdmin(WriteOnlySecretsAdmin):
    """The platform's webhook for enforcements (one active). See docs/webhooks.md for the signature."""

    form = EnforcementEndpointForm
    list_display = ("name", "url", "is_active", "timeout_seconds", "created_at")
    search_fields = ("name", "url")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditedModelAdmin):
    """Messages to affected users per action (and policy, language); placeholders are listed in the help."""

    list_display = ("action", "policy", "language", "is_active")
    list_filter = ("action", "policy", "language", "is_active")
    search_fields = ("body",)


# Accounts: who holds which role and team is security-relevant, so changes to users and groups are audited
# like every other admin change (Django's own LogEntry can be deleted by admins; the audit log cannot).
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedModelAdmin, UserAdmin):
    list_display = ["username", "email", "role", "is_staff", "is_superuser", "is_active", "last_login"]
    list_filter = ["groups", "is_staff", "is_superuser", "is_active"]
    actions = ["reset_second_factor"]

    def has_reset_permission(self, request) -> bool:
        return request.user.has_perm("otp_totp.delete_totpdevice")

    @admin.action(
        description="Reset two-factor (lost phone): they enrol again at next login", permissions=["reset"]
    )
    def reset_second_factor(self, request, queryset):
        users = list(_resettable_users(request, queryset))
        for user in users:
            reset_two_factor(user=user, actor=Actor.for_user(request.user))
        refused = queryset.count() - len(users)
        message = f"Two-factor reset for {len(users)} user{'s' if len(users) != 1 else ''}."
        if refused:
            message += (
                f" {refused} left alone: only a superuser resets an admin's, a superuser's or their own."
            )
        self.message_user(request, message, messages.WARNING if refused else messages.SUCCESS)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="role")
    def role(self, obj) -> str:
        names = {group.name for group in obj.groups.all()}
        if obj.is_superuser:
            return "superuser"
        return next((label for name, label in ROLE_LABELS if name in names), "agent")


@admin.register(Group)
class AuditedGroupAdmin(AuditedModelAdmin, GroupAdmin):
    """Role groups (Agents, Leads, Admins) are reset to `moderation.roles` on every migrate; edit teams here."""


# Two-factor devices: admins reset a lost one by deleting it (the user enrols again at next login). The keys
# are never shown (OTP_ADMIN_HIDE_SENSITIVE_DATA), and resets are audited like every admin change.
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


def _resettable_users(request, users):
    """Whose second factor this admin may reset: a superuser anyone's; an admin only agents' and leads',
    never their own (that would be a way round their own second factor) nor another admin's or a
    superuser's (a phished password plus one admin account must not add up to a superuser session)."""
    if request.user.is_superuser:
        return users
    return users.exclude(is_superuser=True).exclude(groups__name=ADMIN).exclude(pk=request.user.pk)


class _ResettableDevicesAdmin(AuditedModelAdmin):
    """Deleting a device resets the user's whole second factor (authenticator and backup codes)."""

    def get_queryset(self, request):
        users = _resettable_users(request, User.objects.all())
        return super().get_queryset(request).filter(user__in=users)

    def delete_model(self, request, obj):
        reset_two_factor(user=obj.user, actor=Actor.for_user(request.user))

    def delete_queryset(self, request, queryset):
        for user in User.objects.filter(pk__in=queryset.values("user")):
            reset_two_factor(user=user, actor=Actor.for_user(request.user))


@admin.register(TOTPDevice)
class AuditedTOTPDeviceAdmin(_ResettableDevicesAdmin, TOTPDeviceAdmin):
    pass


@admin.register(StaticDevice)
class AuditedStaticDeviceAdmin(_ResettableDevicesAdmin, StaticDeviceAdmin):
    pass


@admin.register(OrgDefaults)
class OrgDefaultsAdmin(AuditedModelAdmin):
    """The organisation's wellness defaults: one row, so no adding a second one and no deleting it."""

    list_display = ("__str__", "blur", "greyscale", "auto_reveal", "exposure_budget_minutes", "theme")

    def has_add_permission(self, request):
        return not OrgDefaults.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # Straight to the one row (created with the defaults on first visit).
        return redirect("admin:moderation_orgdefaults_change", org_defaults().pk)
