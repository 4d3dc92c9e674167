"""Matching banks in the admin: settings, an entry list that pages (never 10,000 inline rows), CSV import
with every bad line shown on the form, and CSV export. Every change goes through `cases.services.banks`
(audited, revision bumped); nothing is ever deleted here (banks are deactivated, entries removed softly)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from cases.models import Bank, BankChange, BankEntry
from cases.models.bank import NORMALISATION_TRICKS
from cases.services import banks as bank_services
from moderation.errors import DomainError, InvalidRows


class BankForm(forms.ModelForm):
    normalisations = forms.MultipleChoiceField(
        choices=[(trick, trick) for trick in NORMALISATION_TRICKS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Text kinds only. Left empty on a new keyword or regex bank: the kind's default.",
    )

    class Meta:
        model = Bank
        fields = ["name", "kind", "description", "normalisations", "pdq_max_distance", "is_active"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and "normalisations" in self.changed_data:
            problem = bank_services.normalisation_conflict(self.instance, cleaned.get("normalisations") or [])
            if problem:
                self.add_error("normalisations", problem)
        return cleaned


class ImportForm(forms.Form):
    file = forms.FileField(help_text="UTF-8 CSV with a header line: value[,label][,note].")
    replace = forms.BooleanField(
        required=False, help_text="Make the bank hold exactly this file: entries not in it are removed."
    )


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    form = BankForm
    list_display = ["name", "kind", "is_active", "revision", "entry_count", "updated_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    readonly_fields = [
        "revision",
        "entries",
        "history",
        "created_by",
        "created_at",
        "updated_by",
        "updated_at",
    ]
    actions = ["export_csv"]

    def get_queryset(self, request):
        from django.db.models import Count, Q

        return (
            super()
            .get_queryset(request)
            .annotate(active_entries=Count("entries", filter=Q(entries__is_active=True)))
        )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Entries' keys depend on the kind; routing conditions name the bank: neither changes after creation.
        return [*fields, "name", "kind"] if obj is not None else fields

    def has_delete_permission(self, request, obj=None):
        return False  # signals point at entries: deactivate a bank instead

    @admin.display(description="active entries")
    def entry_count(self, bank):
        return bank.active_entries

    @admin.display(description="entries")
    def entries(self, bank):
        if bank.pk is None:
            return "-"
        listing = (
            reverse("admin:cases_bankentry_changelist") + f"?bank__id__exact={bank.pk}&is_active__exact=1"
        )
        return format_html(
            '{} active · <a href="{}">browse entries</a> · <a href="{}">import CSV</a> · '
            '<a href="{}">export CSV</a>',
            BankEntry.objects.filter(bank=bank, is_active=True).count(),
            listing,
            reverse("admin:cases_bank_import", args=[bank.pk]),
            reverse("admin:cases_bank_export", args=[bank.pk]),
        )

    @admin.display(description="history")
    def history(self, bank):
        changes = BankChange.objects.filter(bank=bank).order_by("-revision")[:10]
        return format_html_join(
            "\n",
            "<div>r{} · {} · {} · +{} -{} ~{} · {}</div>",
            (
                (
                    c.revision,
                    c.at.strftime("%Y-%m-%d %H:%M"),
                    c.actor_label,
                    c.added,
                    c.removed,
                    c.updated,
                    c.summary,
                )
                for c in changes
            ),
        )

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            created = bank_services.create_bank(
                name=data["name"],
                kind=data["kind"],
                description=data.get("description", ""),
                normalisations=data.get("normalisations") or None,
                pdq_max_distance=data.get("pdq_max_distance", 31),
                user=request.user,
            )
            obj.pk = created.pk
            obj.revision = created.revision
            return
        bank_services.update_bank(
            bank=obj,
            description=data.get("description", ""),
            normalisations=data.get("normalisations") or [],
            pdq_max_distance=data.get("pdq_max_distance"),
            is_active=data.get("is_active"),
            user=request.user,
        )

    def get_urls(self):
        return [
            path(
                "<int:bank_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name="cases_bank_import",
            ),
            path(
                "<int:bank_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="cases_bank_export",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request, bank_id: int):
        bank = get_object_or_404(Bank, pk=bank_id)
        if not self.has_change_permission(request, bank):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        problems: list[tuple[int, str, str]] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.BANK_IMPORT_MAX_BYTES:
                form.add_error("file", f"The file is over {settings.BANK_IMPORT_MAX_BYTES:,} bytes.")
            else:
                try:
                    outcome = bank_services.import_bank_entries(
                        bank=bank,
                        data=upload.read(),
                        replace=form.cleaned_data["replace"],
                        source=upload.name[:200],
                        user=request.user,
                    )
                except InvalidRows as exc:
                    problems = exc.problems
                    form.add_error("file", f"{len(problems)} bad line(s): nothing was imported.")
                except DomainError as exc:
                    form.add_error("file", exc.message)
                else:
                    self.message_user(
                        request,
                        f"Revision {outcome.revision}: {outcome.added} added, {outcome.updated} updated, "
                        f"{outcome.removed} removed, {outcome.unchanged} unchanged, {outcome.duplicates} "
                        "duplicate line(s) skipped.",
                        messages.SUCCESS,
                    )
                    return redirect("admin:cases_bank_change", bank.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": bank,
            "bank": bank,
            "form": form,
            "problems": problems,
            "title": f"Import entries into {bank.name}",
        }
        return TemplateResponse(request, "admin/cases/bank/import_csv.html", context)

    def export_view(self, request, bank_id: int):
        bank = get_object_or_404(Bank, pk=bank_id)
        # Bank contents (hash lists from partners, say) go out only to those who may change them.
        if not self.has_change_permission(request, bank):
            raise PermissionDenied
        return _csv_response(bank, request.user)

    @admin.action(description="Export selected bank as CSV", permissions=["change"])
    def export_csv(self, request, queryset):
        banks = list(queryset[:2])
        if len(banks) != 1:
            self.message_user(request, "Export one bank at a time.", messages.WARNING)
            return None
        return _csv_response(banks[0], request.user)


def _csv_response(bank: Bank, user) -> HttpResponse:
    text = bank_services.export_bank_csv(bank=bank, user=user)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bank-{bank.name}-r{bank.revision}.csv"'
    return response


@admin.register(BankEntry)
class BankEntryAdmin(admin.ModelAdmin):
    """A paged, searchable list; entries change only by import and removal (through the services)."""

    list_display = ["value", "label", "bank", "is_active", "added_at", "removed_at"]
    list_filter = ["is_active", "bank"]
    search_fields = ["value", "label", "match_key"]
    list_select_related = ["bank"]
    list_per_page = 100
    show_full_result_count = False  # no COUNT(*) over a million-hash bank on every page
    readonly_fields = ["bank", "value", "match_key", "label", "note", "is_active", "added_by", "added_at"]
    actions = ["remove_entries"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_remove_permission(self, request):
        return request.user.has_perm("cases.change_bank")

    @admin.action(description="Remove selected entries (soft: history stays)", permissions=["remove"])
    def remove_entries(self, request, queryset):
        by_bank: dict[int, list[int]] = {}
        for entry_id, bank_id in queryset.filter(is_active=True).values_list("pk", "bank_id")[:100_000]:
            by_bank.setdefault(bank_id, []).append(entry_id)
        removed = 0
        for bank in Bank.objects.filter(pk__in=by_bank):
            removed += bank_services.remove_bank_entries(
                bank=bank, entry_ids=by_bank[bank.pk], user=request.user
            )
        self.message_user(
            request, f"{removed} entr{'y' if removed == 1 else 'ies'} removed.", messages.SUCCESS
        )
