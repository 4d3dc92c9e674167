"""Holding a case from its page: claim, skip, release and the lease heartbeat. Thin: authorize, call one
service, answer (a fragment for HTMX, a redirect or the full page otherwise)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from cases import review_selectors
from cases.services.review import case_work
from cases.views import _int, _next_case, _render_review, _toast, _visible_case
from moderation.errors import Conflict
from moderation.page_errors import page_status
from queues.services import (
    claim_case,
    release_case,
    renew_lease,
    skip_case,
)


@login_required
@require_POST
def claim(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    try:
        claimed = claim_case(case_id=case.pk, user=request.user)
    except Conflict as exc:  # HoldLimitReached: the agent already holds as many cases as they may
        return _render_review(request, case, status=page_status(exc), conflict=exc.message)
    case = review_selectors.review_case(case.pk)
    if claimed is None:
        return _render_review(
            request, case, status=409, conflict=_("Someone else is reviewing this case, or it was decided.")
        )
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    return _toast(
        _render_review(request, case), _("Case %(case_id)s is yours for now.") % {"case_id": case.pk}
    )


@login_required
@require_POST
def skip(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    skip_case(case_id=case.pk, user=request.user)
    return _next_case(request, case.queue, _("Skipped case %(case_id)s.") % {"case_id": case.pk})


@login_required
@require_POST
def release(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    release_case(case_id=case.pk, user=request.user)
    target = reverse("queues:queue", args=[case.queue.slug]) if case.queue_id else reverse("queues:dashboard")
    response = HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    return _toast(
        response, _("Case %(case_id)s went back to the queue.") % {"case_id": case.pk}, request=request
    )


@login_required
@require_POST
def heartbeat(request: HttpRequest, case_id: int) -> HttpResponse:
    """The open page says it is still there: renew the agent's lease and show who else is looking."""
    case = _visible_case(request, case_id)
    now = timezone.now()
    reports_seen = _int(request.POST.get("reports_seen")) if request.POST.get("reports_seen") != "0" else 0
    case_work.touch_presence(case_id=case.pk, user=request.user)
    # The page says whether it was holding the case when rendered; if it was and no longer is (lease ran
    # out and someone else claimed it, or the case was decided), the agent is told at once.
    lease_lost = False
    if case.assignee_id == request.user.pk:
        lease_lost = renew_lease(case_id=case.pk, user=request.user) is None
    elif request.POST.get("holding") == "1":
        lease_lost = True
    context = {
        "case": case,
        "viewers": review_selectors.case_viewers(case_id=case.pk, user=request.user, now=now),
        "lease_lost": lease_lost,
        # Once lost, stays lost: the page keeps saying "holding" so every later beat repeats the warning.
        "holding": case.assignee_id == request.user.pk or lease_lost,
        "heartbeat_seconds": settings.CASE_HEARTBEAT_SECONDS,
        # Reports that add no new content leave the agent's form valid: the page only says they arrived.
        "reports_seen": reports_seen if reports_seen is not None else case.report_count,
        "new_reports": max(case.report_count - reports_seen, 0) if reports_seen is not None else 0,
    }
    return render(request, "cases/review.html#presence", context)
