"""The audit log for leads: browse with filters, export CSV (the export itself is audited).

Thin: the filters are a django-filter FilterSet, pages are keyset (`?before=<id>`, newest first) so a log of
millions of rows never needs a COUNT, and the CSV streams with formula injection neutralised (audit data
carries reporters' and vendors' text).
"""

import csv
import json

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from moderation.audit import Actor, Verb, record_event
from moderation.models import AuditEvent
from moderation.spreadsheets import safe_cell
from moderation.streaming import streaming_response
from queues.selectors import visible_audit_events

PAGE_SIZE = 100


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_label", label=_("Actor (username, vendor or system)"))
    actor_type = django_filters.ChoiceFilter(
        choices=AuditEvent.ActorType.choices, empty_label=_("Any actor type"), label=_("Actor type")
    )
    verb = django_filters.CharFilter(field_name="verb", lookup_expr="startswith", label=_("Verb (prefix)"))
    target_type = django_filters.CharFilter(field_name="target_type", label=_("Object type"))
    target_id = django_filters.CharFilter(field_name="target_id", label=_("Object id"))
    case = django_filters.NumberFilter(field_name="case_id", label=_("Case id"), min_value=1)
    since = django_filters.IsoDateTimeFilter(
        field_name="at",
        lookup_expr="gte",
        label=_("From"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="at",
        lookup_expr="lt",
        label=_("Until"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []


def _filtered(request: HttpRequest) -> AuditEventFilter:
    events = visible_audit_events(request.user, AuditEvent.objects.order_by("-id"))
    return AuditEventFilter(request.GET, queryset=events)


@login_required
@permission_required("moderation.view_auditevent", raise_exception=True)
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    filterset = _filtered(request)
    events, next_before = [], None
    if filterset.is_valid():
        queryset = filterset.qs
        before = request.GET.get("before", "")
        if before.isascii() and before.isdigit() and len(before) < 19:
            queryset = queryset.filter(id__lt=int(before))
        events = list(queryset[: PAGE_SIZE + 1])
        if len(events) > PAGE_SIZE:
            events = events[:PAGE_SIZE]
            next_before = events[-1].pk
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "filter": filterset,
        "events": events,
        "next_before": next_before,
        "query": query.urlencode(),
        "export_limit": settings.AUDIT_EXPORT_MAX_ROWS,
    }
    status = 200 if filterset.is_valid() else 422
    template = (
        "moderation/audit_log.html#events"
        if request.htmx and request.htmx.target == "events"
        else ("moderation/audit_log.html")
    )
    return render(request, template, context, status=status)


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    # A spreadsheet would run "=HYPERLINK(...)" from a reporter's comment: make such cells plain text.
    return safe_cell(text)


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@permission_required("moderation.view_auditevent", raise_exception=True)
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    """CSV of the filtered log (newest first, up to AUDIT_EXPORT_MAX_ROWS). The export is audited first."""
    filterset = _filtered(request)
    if not filterset.is_valid():
        return HttpResponse(
            json.dumps({"error": "invalid_filters", "fields": filterset.errors.get_json_data()}),
            status=422,
            content_type="application/json",
        )
    limit = settings.AUDIT_EXPORT_MAX_ROWS
    filters = {key: value for key, value in request.GET.items() if key != "before"}
    record_event(
        actor=Actor.for_user(request.user),
        verb=Verb.AUDIT_EXPORTED,
        target=request.user,
        data={"filters": filters, "limit": limit},
    )
    rows = filterset.qs.values_list(
        "id",
        "at",
        "actor_type",
        "actor_id",
        "actor_label",
        "verb",
        "target_type",
        "target_id",
        "case_id",
        "data",
    )[:limit]
    writer = csv.writer(_Echo())
    header = [
        "id",
        "at",
        "actor_type",
        "actor_id",
        "actor",
        "verb",
        "target_type",
        "target_id",
        "case_id",
        "data",
    ]

    def stream():
        yield writer.writerow(header)
        for row in rows.iterator(chunk_size=2000):
            event_id, at, *rest, data = row
            yield writer.writerow(
                [event_id, at.isoformat(), *(_cell(v if v is not None else "") for v in rest), _cell(data)]
            )

    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = streaming_response(request, stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
