"""Admin changes go to the audit log as well as Django's own LogEntry (which admins can delete)."""

from django.contrib import admin

from moderation.audit import Actor, Verb, record_event


class AuditedModelAdmin(admin.ModelAdmin):
    def log_addition(self, request, obj, message):
        record_event(
            actor=Actor.for_user(request.user),
            verb=Verb.ADMIN_ADDED,
            target=obj,
            data={"change": str(message)},
        )
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        record_event(
            actor=Actor.for_user(request.user),
            verb=Verb.ADMIN_CHANGED,
            target=obj,
            data={"change": str(message)},
        )
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            record_event(
                actor=Actor.for_user(request.user),
                verb=Verb.ADMIN_DELETED,
                target=obj,
                data={"repr": str(obj)},
            )
        return super().log_deletions(request, queryset)


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Evidence and history: viewable, never added, edited or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
