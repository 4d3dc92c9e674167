"""The queue page's filters and sorts (django-filter). Every sort has an index (see `Case.Meta.indexes`)."""

from datetime import timedelta

import django_filters
from django import forms
from django.db.models import DateTimeField, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import CLAIMABLE_STATUSES, Case, Report, Subject, SubjectTag
from moderation.models import Policy, Vendor
from queues.keyset import SortKey

SORTS = {
    "priority": ("-priority", "opened_at"),
    "oldest": ("opened_at",),
    "newest": ("-opened_at",),
    "sla": ("sla_due_at", "opened_at"),
    "reported": ("-last_reported_at",),
    "reports": ("-report_count", "opened_at"),
}
SORT_LABELS = {
    "priority": _("Priority"),
    "oldest": _("Oldest"),
    "newest": _("Newest"),
    "sla": _("SLA"),
    "reported": _("Reported"),
    "reports": _("Reports"),
}
# The same orders for keyset pages (`queues.keyset`), each followed by the id; cases without an SLA or a
# report time come last.
_NULLABLE = {"sla_due_at", "last_reported_at"}
# A cursor's value for a date-time column must be a date-time, for a number a number (`decode_cursor`).
_MOMENTS = {field.name for field in Case._meta.get_fields() if isinstance(field, DateTimeField)}
KEYSETS = {
    sort: tuple(
        SortKey(
            name.lstrip("-"),
            descending=name.startswith("-"),
            nullable=name.lstrip("-") in _NULLABLE,
            moment=name.lstrip("-") in _MOMENTS,
        )
        for name in fields
    )
    for sort, fields in SORTS.items()
}
SLA_STATES = [
    ("late", _("Past SLA")),
    ("soon", _("Due within 1 hour")),
    ("today", _("Due within 24 hours")),
    ("ok", _("Within SLA")),
]
STATUS_CHOICES = [
    ("waiting", _("Waiting (unclaimed)")),
    ("active", _("Not resolved")),
    ("open", _("Open")),
    ("in_review", _("In review")),
    ("escalated", _("Escalated")),
    ("pending_confirmation", _("Awaiting confirmation")),
    ("resolved", _("Resolved")),
    ("any", _("Any")),
]


class CaseQueueFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, method="filter_status", empty_label=None, label=_("Status")
    )
    policy = django_filters.ModelChoiceFilter(
        queryset=Policy.objects.all(), empty_label=_("Any policy"), label=_("Policy")
    )
    kind = django_filters.ChoiceFilter(
        field_name="subject__kind", choices=Subject.Kind.choices, empty_label=_("Any kind"), label=_("Kind")
    )
    vendor = django_filters.ModelChoiceFilter(
        queryset=Vendor.objects.all(),
        method="filter_vendor",
        empty_label=_("Any vendor"),
        label=_("Reported by"),
    )
    sla = django_filters.ChoiceFilter(
        choices=SLA_STATES, method="filter_sla", empty_label=_("Any SLA state"), label=_("SLA")
    )
    priority_min = django_filters.NumberFilter(field_name="priority", lookup_expr="gte", min_value=0)
    priority_max = django_filters.NumberFilter(field_name="priority", lookup_expr="lte", min_value=0)
    score_min = django_filters.NumberFilter(
        field_name="max_score", lookup_expr="gte", min_value=0, max_value=1, label=_("Score from")
    )
    score_max = django_filters.NumberFilter(
        field_name="max_score", lookup_expr="lte", min_value=0, max_value=1, label=_("Score up to")
    )
    tag = django_filters.CharFilter(method="filter_tag", max_length=64, label=_("Tag"))
    q = django_filters.CharFilter(method="filter_text", max_length=200, label=_("Search"))
    sort = django_filters.ChoiceFilter(
        choices=list(SORT_LABELS.items()),
        method="filter_noop",
        empty_label=None,
        label=_("Sort by"),
    )

    class Meta:
        model = Case
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        # Defaults apply when a field is absent: a bare /queues/<slug>/ shows the waiting (unclaimed) cases by
        # priority, in claim order, served by the claim index.
        data = data.copy() if data is not None else {}
        data.setdefault("status", "waiting")
        data.setdefault("sort", "priority")
        super().__init__(data, *args, **kwargs)
        for name in ("priority_min", "priority_max", "score_min", "score_max"):
            self.form.fields[name].widget = forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})

    _form_class = None

    def get_form_class(self):
        # django-filter builds a new form class (a metaclass run over every field) for every page; nothing in
        # these fields depends on the request, and each form instance copies the class's fields anyway.
        if CaseQueueFilter._form_class is None:
            CaseQueueFilter._form_class = super().get_form_class()
        return CaseQueueFilter._form_class

    @property
    def sort_name(self) -> str:
        sort = self.form.cleaned_data.get("sort") if self.form.is_valid() else None
        return sort or "priority"

    @property
    def qs(self):
        queryset = super().qs
        sort = self.form.cleaned_data.get("sort") if self.form.is_valid() else None
        # No id tie-breaker: each ordering is served by its index as it stands (ties need equal microseconds).
        return queryset.order_by(*SORTS.get(sort or "priority"))

    def filter_noop(self, queryset, name, value):
        return queryset

    def filter_status(self, queryset, name, value):
        if value == "active":
            return queryset.exclude(status=Case.Status.RESOLVED)
        if value == "waiting":
            return queryset.filter(status__in=CLAIMABLE_STATUSES, assignee__isnull=True)
        if value == "any":
            return queryset
        return queryset.filter(status=value)

    def filter_vendor(self, queryset, name, value):
        return queryset.filter(Exists(Report.objects.filter(case=OuterRef("pk"), vendor=value)))

    def filter_sla(self, queryset, name, value):
        now = timezone.now()
        if value == "late":
            return queryset.filter(sla_due_at__lt=now)
        if value == "soon":
            return queryset.filter(sla_due_at__gte=now, sla_due_at__lt=now + timedelta(hours=1))
        if value == "today":
            return queryset.filter(sla_due_at__gte=now, sla_due_at__lt=now + timedelta(hours=24))
        return queryset.filter(Q(sla_due_at__gte=now) | Q(sla_due_at__isnull=True))

    def filter_tag(self, queryset, name, value):
        value = value.strip().lower()
        if not value:
            return queryset
        return queryset.filter(
            Exists(SubjectTag.objects.filter(subject=OuterRef("subject"), tag__slug=value))
        )

    def filter_text(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        condition = Q(subject__text__icontains=value) | Q(subject__external_id=value)
        condition |= Q(subject__author_id=value)
        if value.isascii() and value.isdigit() and len(value) < 19:
            condition |= Q(pk=int(value))
        return queryset.filter(condition)
