"""The agent's queues: dashboard, queue page, and claim-next. Thin: parse, authorize, call, render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from cases.delivery_health import delivery_alert
from cases.selectors import bulk_choices
from cases.services.review.bulk import bulk_decide as decide_in_bulk
from moderation.comfort import my_exposure, session_comfort
from moderation.errors import Invalid
from moderation.page_errors import page_status
from moderation.statement_limits import within_statement_timeout
from queues import comfort_selectors, page_selectors, saved_view_selectors, selectors
from queues.filter_markup import filter_fields_html
from queues.filters import KEYSETS, CaseQueueFilter
from queues.keyset import NEXT, PREVIOUS
from queues.services import ClaimRefused, claim_next_case

# Navigations that may claim on GET: a bookmark or typed URL ("none") or a link in this app. A cross-site
# page cannot make an agent's browser claim cases by linking here: it gets a confirmation button instead.
SAFE_FETCH_SITES = {"none", "same-origin"}


def _wants(request: HttpRequest, target: str) -> bool:
    return bool(request.htmx) and request.htmx.target == target and not request.htmx.boosted


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    is_lead = request.user.is_superuser or request.user.has_perm("cases.view_case")
    context = {
        "stats": selectors.dashboard(request.user),
        "refresh_seconds": settings.DASHBOARD_REFRESH_SECONDS,
        # Leads (and admins) see the rules the surge guard paused, until someone turns them back on, and
        # failing enforcement deliveries (one query).
        "paused_rules": selectors.auto_paused_rules() if is_lead else [],
        "delivery_alert": delivery_alert(request.user)
        if is_lead and not _wants(request, "queue-table")
        else None,
    }
    template = (
        "queues/dashboard.html#queue-table" if _wants(request, "queue-table") else "queues/dashboard.html"
    )
    return render(request, template, context)


@login_required
@require_GET
def queue_page(request: HttpRequest, slug: str) -> HttpResponse:
    queue = selectors.queue_for_user(request.user, slug)
    if queue is None:
        raise Http404("No such queue")
    # The summary of the lead's last bulk decision on this queue, shown once.
    result = request.session.pop("bulk_result", None)
    return _render_queue(
        request, queue, request.GET, bulk_result=result if result and result.get("queue") == slug else None
    )


def _render_queue(
    request: HttpRequest, queue, query: QueryDict, *, status: int = 200, **extra
) -> HttpResponse:
    filterset = CaseQueueFilter(query, queryset=selectors.queue_cases(queue))
    page = cursor_error = None
    if filterset.is_valid():

        def read():
            return page_selectors.queue_page(
                filterset.qs,
                sort=filterset.sort_name,
                keys=KEYSETS[filterset.sort_name],
                after=query.get(NEXT, "")[:500],
                before=query.get(PREVIOUS, "")[:500],
                size=settings.QUEUE_PAGE_SIZE,
                count_cap=settings.QUEUE_COUNT_CAP,
            )

        try:
            if filterset.form.cleaned_data.get("q"):
                # A substring of every text in a big queue may take seconds: bounded, then "narrow it down".
                page = within_statement_timeout(settings.QUEUE_TEXT_TIMEOUT_MS, read)
            else:
                page = read()
        except Invalid as exc:
            cursor_error = exc
        except DatabaseError:
            filterset.form.add_error(
                "q", _("Too many cases contain these words to list them now: add a word or another filter.")
            )
    # The pager's links keep the filter and replace the cursor.
    kept = query.copy() if hasattr(query, "copy") else QueryDict(mutable=True)
    for name in (NEXT, PREVIOUS, "page"):
        kept.pop(name, None)
    context = {
        "cursor_error": cursor_error,
        "pager_query": kept.urlencode(),
        "queue": queue,
        "filter": filterset,
        "page": page,
        "count_cap": settings.QUEUE_COUNT_CAP,
        "bulk_cap": settings.BULK_DECIDE_MAX_CASES,
        "filter_query": query.urlencode() if hasattr(query, "urlencode") else "",
        **extra,
    }
    if not _wants(request, "case-list"):
        context["saved_views"] = saved_view_selectors.queue_saved_views(queue)
        context["starred"] = saved_view_selectors.is_starred(request.user, queue)
        context["can_save_view"] = request.user.is_superuser or request.user.has_perm("queues.add_savedview")
        context["current_filter"] = request.GET.urlencode()
        context["filter_fields"] = filter_fields_html(filterset)
    if request.user.is_superuser or request.user.has_perm("cases.bulk_decide"):
        context["bulk"] = bulk_choices()
    template = "queues/queue.html#case-list" if _wants(request, "case-list") else "queues/queue.html"
    # 422 (not 400): htmx swaps it in, so the errors replace the list instead of being dropped.
    return render(request, template, context, status=status if page is not None else 422)


@login_required
@require_http_methods(["GET", "POST"])
def claim_next(request: HttpRequest, slug: str) -> HttpResponse:
    """Claim the queue's next case and open it. GET works from bookmarks and links in the app (see above)."""
    queue = selectors.queue_for_user(request.user, slug)
    if queue is None:
        raise Http404("No such queue")
    if request.method == "GET" and request.headers.get("Sec-Fetch-Site") not in SAFE_FETCH_SITES:
        return render(request, "queues/claim_confirm.html", {"queue": queue})
    try:
        case = claim_next_case(user=request.user, queue=queue)
    except ClaimRefused as exc:
        context = {"queue": queue, "error": exc.message}
        return render(request, "queues/claim_confirm.html", context, status=page_status(exc))
    if case is None:
        return render(request, "queues/empty.html", {"queue": queue})
    if case.queue_id != queue.pk:
        # At CASE_MAX_HELD: the case the agent already holds elsewhere, not another one.
        messages.info(
            request,
            _("You are still reviewing case %(case)s: decide, skip or release it first.") % {"case": case.pk},
        )
    return redirect("cases:review", case_id=case.pk)


@login_required
@require_http_methods(["POST"])
def bulk_decide(request: HttpRequest, slug: str) -> HttpResponse:
    """Leads: one policy and action for the selected cases of this queue (or all matching the filter, up to
    BULK_DECIDE_MAX_CASES), each decided and audited on its own. A refused batch re-renders the page with the
    selection and choices kept; a done one shows its summary."""
    queue = selectors.queue_for_user(request.user, slug)
    if queue is None:
        raise Http404("No such queue")
    cap = settings.BULK_DECIDE_MAX_CASES
    query = QueryDict(request.POST.get("filter", "")[:4000])
    scope = "filter" if request.POST.get("scope") == "filter" else "selected"
    ids = [case_id for case_id in map(_positive_int, request.POST.getlist("cases")[:2000]) if case_id]
    form = {
        "selected": set(ids),
        "policy": _positive_int(request.POST.get("policy")),
        "action": _positive_int(request.POST.get("action")),
        "reason": request.POST.get("reason", "")[:5000],
        "scope": scope,
    }
    try:
        if scope == "filter":
            # The cases the lead saw counted: the queue's filter as it stood, re-applied now, capped.
            matching = CaseQueueFilter(query, queryset=selectors.queue_cases(queue))
            if not matching.is_valid():
                raise Invalid(_("The filter is not valid any more: filter again."), field="cases")
            ids = list(matching.qs.values_list("pk", flat=True)[:cap])
        elif len(ids) > cap:
            raise Invalid(_("Select at most %(cap)d cases at once.") % {"cap": cap}, field="cases")
        # Only cases of this queue: a crafted id from elsewhere is skipped, never decided.
        in_queue = set(selectors.queue_cases(queue).filter(pk__in=ids).values_list("pk", flat=True))
        outcome = decide_in_bulk(
            user=request.user,
            case_ids=[case_id for case_id in ids if case_id in in_queue],
            policy_id=form["policy"],
            action_id=form["action"],
            reason=form["reason"],
        )
    except Invalid as exc:  # Forbidden (not a lead) is moderation.page_errors' 403
        return _render_queue(request, queue, query, status=422, bulk_error=exc.message, bulk_form=form)
    outside = sorted(set(ids) - in_queue)
    skipped = {
        **{str(k): v for k, v in outcome.skipped.items()},
        **{str(k): _("Not in this queue.") for k in outside},
    }
    messages.success(
        request,
        _("Decided %(decided)d case(s); skipped %(skipped)d (held, decided or protected).")
        % {"decided": len(outcome.decided), "skipped": len(skipped)},
    )
    request.session["bulk_result"] = {
        "queue": queue.slug,
        "decided": outcome.decided[:100],
        "decided_count": len(outcome.decided),
        "skipped": dict(list(skipped.items())[:100]),
    }
    target = reverse("queues:queue", args=[queue.slug])
    return redirect(f"{target}?{query.urlencode()}" if query else target)


def _positive_int(value) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 19 else None


@login_required
@require_GET
def badges(request: HttpRequest) -> HttpResponse:
    """The header's badges and the break suggestion, refreshed by one poll (templates/base.html)."""
    comfort = session_comfort(request)
    context = {
        "badges": comfort_selectors.header_badges(request.user),
        "exposure": my_exposure(request.user, comfort) if comfort.exposure_budget_minutes else None,
        "poll_seconds": settings.BADGE_POLL_SECONDS,
    }
    return render(request, "queues/_badges.html", context)


WAITING_TITLES = {
    "escalations": gettext_lazy("Escalations to your queues"),
    "confirmations": gettext_lazy("Second reviews you may confirm"),
    "appeals": gettext_lazy("Appeals you may review"),
}


@login_required
@require_GET
def waiting(request: HttpRequest, kind: str) -> HttpResponse:
    """The cases behind a header badge: what it counted, most urgent first, each a link to its case."""
    if kind not in comfort_selectors.WAITING_KINDS:
        raise Http404("No such list")
    context = {
        "kind": kind,
        "title": WAITING_TITLES[kind],
        "cases": comfort_selectors.waiting_cases(request.user, kind),
        "limit": 100,
    }
    return render(request, "queues/waiting.html", context)
