"""Leads place and release legal holds from the case page. Plain form posts that redirect back to the case
with a message (the panel is small and rare: no fragment to keep in step). A missing reason or a second
hold comes back as an error message on the page; Forbidden and NotFound are answered by
moderation.page_errors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases import retention_selectors, review_selectors
from cases.models import Case
from cases.services.legal_holds import place_legal_hold, release_legal_hold
from moderation.errors import Conflict, Invalid


def _visible_case(request: HttpRequest, case_id: int) -> Case:
    # Among the cases the user may see: a restricted case answers exactly as a missing one.
    case = review_selectors.review_case(case_id, user=request.user)
    if case is None:
        raise Http404("No such case")
    return case


@login_required
@require_POST
def place_hold(request: HttpRequest, case_id: int) -> HttpResponse:
    """Hold this case (`on=case`) or its subject and all its cases (`on=subject`) against purging."""
    case = _visible_case(request, case_id)
    on_subject = request.POST.get("on") == "subject"
    try:
        place_legal_hold(
            user=request.user,
            reason=request.POST.get("reason", ""),
            case_id=None if on_subject else case.pk,
            subject_id=case.subject_id if on_subject else None,
        )
    except (Invalid, Conflict) as refused:
        messages.error(request, refused.message)
    else:
        messages.success(
            request,
            _("Legal hold placed on the subject.") if on_subject else _("Legal hold placed on the case."),
        )
    return redirect("cases:review", case_id=case.pk)


@login_required
@require_POST
def release_hold(request: HttpRequest, case_id: int, hold_id: int) -> HttpResponse:
    """Release an active hold on this case or its subject, with a reason."""
    case = _visible_case(request, case_id)
    if hold_id not in {hold.pk for hold in retention_selectors.subject_holds(case.subject, request.user)}:
        raise Http404("No such legal hold on this case")
    try:
        release_legal_hold(user=request.user, hold_id=hold_id, reason=request.POST.get("reason", ""))
    except (Invalid, Conflict) as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Legal hold released."))
    return redirect("cases:review", case_id=case.pk)
