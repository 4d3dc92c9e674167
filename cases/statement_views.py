"""Leads' pages for EU DSA statements of reasons: failing statements (with a retry), the export for a period
and the transparency report (page and CSV). Thin: parse, authorize, one selector or service, render.

Everything is scoped to the cases the lead may see (`queues.selectors.visible_cases`): a lead not cleared
for a restricted queue sees no statement, count or export row from it. Exports are audited before the first
byte leaves.
"""

import csv
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cases import statement_selectors as selectors
from cases.services.statements import record_export, retry_statement
from moderation.audit import Actor
from moderation.errors import DomainError
from moderation.streaming import streaming_response
from queues.selectors import visible_cases

VIEW = "cases.view_statementofreasons"
DEFAULT_DAYS = 30


def _period(request: HttpRequest) -> tuple[date, date] | None:
    """`?since=YYYY-MM-DD&until=YYYY-MM-DD` (until defaults to today, since to 30 days before); None if bad."""
    today = timezone.localdate()
    try:
        until = date.fromisoformat(request.GET["until"]) if request.GET.get("until") else today
        since = (
            date.fromisoformat(request.GET["since"])
            if request.GET.get("since")
            else date.fromordinal(until.toordinal() - DEFAULT_DAYS)
        )
    except ValueError:
        return None
    # The period's end bound is the midnight after `until`: the calendar's last day would overflow (a 500).
    return (since, until) if since <= until < date.max else None


def _bad_period() -> HttpResponse:
    return HttpResponse("since and until must be dates (YYYY-MM-DD), since ≤ until.", status=400,
                        content_type="text/plain")  # fmt: skip


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def statements_page(request: HttpRequest) -> HttpResponse:
    period = _period(request)
    if period is None:
        return _bad_period()
    cases = visible_cases(request.user)
    context = {
        "failing": selectors.failing_statements(cases),
        "states": selectors.statement_states(cases),
        "since": period[0],
        "until": period[1],
        "can_retry": request.user.has_perm("cases.retry_enforcement"),
    }
    return render(request, "cases/statements.html", context)


@login_required
@require_POST
def retry(request: HttpRequest, statement_id: int) -> HttpResponse:
    """A lead sends a failed statement again (rebuilt first if it broke a rule)."""
    if not request.user.has_perm("cases.retry_enforcement"):
        return HttpResponse("Only leads can retry statements.", status=403, content_type="text/plain")
    if not visible_cases(request.user).filter(statements__pk=statement_id).exists():
        return HttpResponse("No such statement.", status=404, content_type="text/plain")
    try:
        statement = retry_statement(statement_id=statement_id, user=request.user)
    except DomainError as exc:
        messages.info(request, str(exc))
    else:
        if statement.validation_errors:
            messages.error(request, f"{statement.puid} still breaks the rules: {statement.last_error}")
        else:
            messages.success(request, f"{statement.puid} queued again.")
    return redirect("dsa:statements")


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """The period's statements as submitted: JSON (an array) or CSV (`?format=csv`). Audited."""
    period = _period(request)
    fmt = request.GET.get("format", "json")
    if period is None or fmt not in ("json", "csv"):
        return _bad_period()
    statements = selectors.statements_in_period(visible_cases(request.user), since=period[0], until=period[1])
    record_export(actor=Actor.for_user(request.user), since=period[0], until=period[1], fmt=fmt)
    parts = selectors.statements_json(statements) if fmt == "json" else selectors.statements_csv(statements)
    response = streaming_response(
        request, parts, content_type="application/json" if fmt == "json" else "text/csv; charset=utf-8"
    )
    name = f"statements-{period[0].isoformat()}-{period[1].isoformat()}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def transparency(request: HttpRequest) -> HttpResponse:
    """The transparency report for a period; `?format=csv` downloads it (audited)."""
    period = _period(request)
    if period is None:
        return _bad_period()
    report = selectors.transparency_report(visible_cases(request.user), since=period[0], until=period[1])
    if request.GET.get("format") != "csv":
        return render(request, "cases/transparency.html", {"report": report})
    record_export(
        actor=Actor.for_user(request.user), since=period[0], until=period[1], fmt="csv", report=True
    )
    writer = csv.writer(_Echo())
    response = HttpResponse("".join(writer.writerow(row) for row in report.csv_rows()),
                            content_type="text/csv; charset=utf-8")  # fmt: skip
    response["Content-Disposition"] = (
        f'attachment; filename="transparency-{period[0].isoformat()}-{period[1].isoformat()}.csv"'
    )
    return response
