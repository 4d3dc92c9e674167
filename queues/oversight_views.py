"""Leads' pages: Queue health (`/oversight/`) and Team (`/oversight/team`). Thin: parse the period and the
queue filter, authorize, call one selector, render (or answer one chart's CSV with `?csv=<slug>`)."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from moderation.errors import Invalid
from moderation.periods import CHOICES, parse_period
from queues.oversight_selectors import oversight_scope, queue_health_charts
from queues.team_selectors import team_charts


def _is_lead(user) -> bool:
    return user.is_superuser or user.has_perm("cases.view_case")


def _queue_ids(request: HttpRequest) -> list[int]:
    values = request.GET.getlist("queue")[:200]
    return [int(v) for v in values if v.isascii() and v.isdigit() and 0 < len(v) < 19]


def _page(request: HttpRequest, template: str, build) -> HttpResponse:
    if not _is_lead(request.user):
        raise PermissionDenied("Leads only.")
    scope = oversight_scope(request.user, _queue_ids(request))
    context = {"scope": scope, "choices": CHOICES, "params": request.GET, "charts": [], "error": None}
    try:
        period = parse_period(request.GET)
    except Invalid as exc:
        # 422 with the form and the error on the page: a bad custom range is the lead's to fix, not a 500.
        context["error"] = exc
        return render(request, template, context, status=422)
    charts = build(scope, period)
    wanted = request.GET.get("csv")
    if wanted:
        chart = next((c for c in charts if c.slug == wanted), None)
        if chart is None:
            raise Http404("No such chart")
        return chart.csv()
    query = list(period.query().items()) + [("queue", pk) for pk in sorted(scope.chosen)]
    context.update(period=period, charts=charts, csv_query=urlencode(query))
    return render(request, template, context)


@login_required
@require_GET
def queue_health(request: HttpRequest) -> HttpResponse:
    return _page(request, "oversight/health.html", queue_health_charts)


@login_required
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    return _page(request, "oversight/team.html", team_charts)
