"""Lead dashboards of cases: Outcomes, and Reporters & vendors with the outbox's delivery health.

Leads and admins only (the `cases.view_case` permission leads hold, or superuser); agents get 403. Each page
reads its period (`moderation.periods`) and queue filter from GET, answers a bad one with 422 and the error
on the page, and answers `?csv=<slug>` with that chart's CSV. Every figure comes from a selector that limits
it to cases the lead may see.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases import oversight_selectors as outcomes
from cases import source_selectors as sources
from cases.delivery_health import delivery_alert, delivery_health
from moderation.errors import Invalid
from moderation.page_errors import page_status
from moderation.periods import CHOICES, parse_period
from queues.selectors import visible_queues


def is_lead(user) -> bool:
    return user.is_authenticated and (user.is_superuser or user.has_perm("cases.view_case"))


def _filters(request: HttpRequest):
    """(period, chosen queue ids, the queues the lead may choose from); raises Invalid naming the field."""
    queues = list(visible_queues(request.user))
    allowed = {queue.pk for queue in queues}
    chosen = []
    for value in request.GET.getlist("queue"):
        # isdigit() alone lets "²" and 5,000-digit strings reach int(), which raises (a 500).
        if not (value.isascii() and value.isdigit() and len(value) < 19) or int(value) not in allowed:
            raise Invalid("queue must be one of the queues you may see.", field="queue")
        chosen.append(int(value))
    return parse_period(request.GET), chosen, queues


def _page(request: HttpRequest, template: str, build) -> HttpResponse:
    if not is_lead(request.user):
        raise PermissionDenied("Dashboards are for leads and admins.")
    query = request.GET.copy()
    query.pop("csv", None)
    context = {
        "choices": CHOICES,
        "params": request.GET,
        "csv_query": query.urlencode(),
        "alert": delivery_alert(request.user),
    }
    try:
        period, chosen, queues = _filters(request)
    except Invalid as error:
        context |= {"error": error, "queues": list(visible_queues(request.user)), "chosen": []}
        return render(request, template, context, status=page_status(error))
    context |= {"period": period, "queues": queues, "chosen": chosen}
    charts = build(request.user, period, chosen, context)
    wanted = request.GET.get("csv")
    if wanted:
        if wanted not in charts:
            raise Http404("No such chart")
        return charts[wanted].csv()
    context["charts"] = charts
    return render(request, template, context)


@login_required
@require_GET
def outcomes_page(request: HttpRequest) -> HttpResponse:
    def build(user, period, chosen, context):
        by_source, share = outcomes.decisions_by_source(user, period, chosen)
        by_policy = outcomes.decisions_by_policy_action(user, period, chosen)
        rules = outcomes.rule_performance(user, period, chosen)
        models = outcomes.model_performance(user, period, chosen)
        charts = {
            c.slug: c
            for c in (
                by_source,
                share,
                by_policy,
                outcomes.performance_chart(
                    "rule-quality", "Automated rules: agreement and precision", rules, "Rule"
                ),
                outcomes.performance_table(
                    "rule-figures", "Automated and shadow rules", rules, "Rule", "Decisions"
                ),
                outcomes.performance_chart(
                    "model-quality", "Models: agreement and precision", models, "Model"
                ),
                outcomes.performance_table("model-figures", "Models", models, "Model", "Scores"),
            )
        }
        context["drawn"] = [by_source, share, by_policy]
        context |= {slug.replace("-", "_"): chart for slug, chart in charts.items()}
        return charts

    return _page(request, "oversight/outcomes.html", build)


@login_required
@require_GET
def sources_page(request: HttpRequest) -> HttpResponse:
    def build(user, period, chosen, context):
        volume, accuracy, figures = sources.vendor_figures(user, period, chosen)
        reporters = sources.top_reporters(user)
        muted_count, muted = sources.muted_reporters()
        charts = {
            c.slug: c
            for c in (volume, accuracy, sources.vendor_table(figures), sources.reporter_table(reporters))
        }
        context |= {
            "drawn": [volume, accuracy],
            "muted_count": muted_count,
            "muted": muted,
            "deliveries": delivery_health(user),
        }
        context |= {slug.replace("-", "_"): chart for slug, chart in charts.items()}
        return charts

    return _page(request, "oversight/sources.html", build)
