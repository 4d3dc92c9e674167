"""Write-only secrets in the admin: signing keys, webhook secrets, API credentials of outbound calls.

A stored secret is never sent back to a browser: the form field is a password input that starts empty and
never renders a value, view-only pages say only whether one is set, and the audit log records that a secret
was rotated or removed, never what it was or became. Posting the field empty keeps the current secret;
typing one replaces it; optional secrets get a "remove" box.
"""

from typing import ClassVar

from django import forms
from django.contrib import admin
from django.db import models
from django.utils.text import capfirst

from moderation.admin_audit import AuditedModelAdmin
from moderation.audit import Actor, Verb, record_event


class WriteOnlySecretsForm(forms.ModelForm):
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            # Not the stored value (ModelForm's initial): an empty post then means "unchanged", so the change
            # is audited only when a new secret is typed.
            self.initial[name] = ""
            if name in self.fields and self.instance.pk and getattr(self.instance, name):
                self.fields[name].help_text += " A secret is set: leave empty to keep it."

    def clean(self):
        cleaned = super().clean()
        self.rotated_secrets, self.removed_secrets = [], []
        for name in self.secret_fields:
            if name not in self.fields:
                continue
            current = getattr(self.instance, name) if self.instance.pk else ""
            if cleaned.get(name):
                self.rotated_secrets.append(name)
            elif cleaned.get(f"clear_{name}") and current:
                cleaned[name] = ""
                self.removed_secrets.append(name)
            else:
                cleaned[name] = current
        return cleaned


def write_only_secrets_form(
    model: type[models.Model],
    secret_fields: tuple[str, ...],
    *,
    fields: list[str] | str = "__all__",
    help_texts: dict[str, str] | None = None,
) -> type[WriteOnlySecretsForm]:
    """A ModelForm for `model` whose `secret_fields` are write-only (and, when optional, removable)."""
    attrs: dict = {
        "__module__": __name__,
        "secret_fields": tuple(secret_fields),
        "Meta": type("Meta", (), {"model": model, "fields": fields, "help_texts": help_texts or {}}),
    }
    for name in secret_fields:
        field = model._meta.get_field(name)
        help_text = str(field.help_text or "").strip()
        attrs[name] = forms.CharField(
            label=capfirst(field.verbose_name),
            max_length=field.max_length,
            required=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=f"{help_text} Write-only: never shown again once saved.".strip(),
        )
        if field.blank:
            attrs[f"clear_{name}"] = forms.BooleanField(
                required=False, label=f"Remove the {field.verbose_name}"
            )
    return type(f"{model.__name__}SecretsForm", (WriteOnlySecretsForm,), attrs)


class WriteOnlySecretsAdmin(AuditedModelAdmin):
    """For a `form` made by `write_only_secrets_form`. A view-only page (someone without the change
    permission) would render every field from the stored value: there each secret becomes `<name>_status`,
    which says only whether it is set."""

    form: type[WriteOnlySecretsForm]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.form.secret_fields:
            label = cls.form.base_fields[name].label

            def status(self, obj, name=name) -> str:
                return "Set (never shown)" if getattr(obj, name) else "Not set"

            setattr(cls, f"{name}_status", admin.display(description=label)(status))

    def _view_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self._view_only(request, obj):
            readonly += [f"{name}_status" for name in self.form.secret_fields]
        return readonly

    def get_fieldsets(self, request, obj=None):
        """Secrets as write-only inputs, each followed by its "remove" box on the change page; on a view-only
        page, their status instead."""
        view_only = self._view_only(request, obj)
        secrets = set(self.form.secret_fields)
        clear_names = {f"clear_{name}" for name in secrets}
        status_names = {f"{name}_status" for name in secrets}
        fieldsets = []
        for title, options in super().get_fieldsets(request, obj):
            names = []
            for name in options.get("fields", ()):
                if not isinstance(name, str) or name not in secrets | clear_names | status_names:
                    names.append(name)
                elif view_only and name in secrets:
                    names.append(f"{name}_status")
                elif name in secrets:
                    names.append(name)
                    if obj is not None and f"clear_{name}" in self.form.base_fields:
                        names.append(f"clear_{name}")
            fieldsets.append((title, {**options, "fields": names}))
        return fieldsets

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            return  # the addition itself is audited (admin.added)
        for verb, names in (
            (Verb.ADMIN_SECRET_ROTATED, form.rotated_secrets),
            (Verb.ADMIN_SECRET_REMOVED, form.removed_secrets),
        ):
            for name in names:
                record_event(actor=Actor.for_user(request.user), verb=verb, target=obj, data={"field": name})
