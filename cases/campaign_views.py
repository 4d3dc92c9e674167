"""The campaign page and a lead's decision on a whole campaign. Thin: parse, authorize, call one selector or
service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases import campaign_selectors
from cases.selectors import bulk_choices
from cases.services.review.campaign_decisions import decide_campaign
from moderation.errors import DomainError
from moderation.page_errors import page_status, with_error_toast


def _int(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**63 else None


def _may_decide(user) -> bool:
    return user.is_superuser or user.has_perm("cases.bulk_decide")


def _render(request: HttpRequest, campaign_id: int, *, status: int = 200, **extra) -> HttpResponse:
    view = campaign_selectors.campaign_detail(
        campaign_id=campaign_id, user=request.user, page_number=_int(request.GET.get("page")) or 1
    )
    if view is None:
        raise Http404("No such campaign")
    context = {"view": view, "campaign": view.campaign, **extra}
    if _may_decide(request.user):
        context["plan"] = campaign_selectors.decision_plan(campaign=view.campaign, user=request.user)
        context["choices"] = bulk_choices()
    return render(request, "cases/campaign.html", context, status=status)


@login_required
@require_GET
def campaign_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _render(request, campaign_id)


@login_required
@require_POST
def decide(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A lead decides the campaign's open cases (the form confirms how many: `expected`)."""
    form = {
        "policy": _int(request.POST.get("policy")),
        "action": _int(request.POST.get("action")),
        "reason": request.POST.get("reason", ""),
        "expected": _int(request.POST.get("expected")) if request.POST.get("confirm") == "yes" else None,
    }
    try:
        outcome = decide_campaign(
            user=request.user,
            campaign_id=campaign_id,
            policy_id=form["policy"],
            action_id=form["action"],
            reason=form["reason"],
            expected_count=form["expected"],
        )
    except DomainError as exc:
        if page_status(exc) == 404:
            raise Http404("No such campaign") from None
        response = _render(request, campaign_id, status=page_status(exc), decision_error=exc, form=form)
        return with_error_toast(request, response, exc)
    skipped = len(outcome.skipped_protected) + len(outcome.skipped_held) + len(outcome.skipped_changed)
    counts = {
        "decided": len(outcome.decided),
        "protected": len(outcome.skipped_protected),
        "held": len(outcome.skipped_held),
        "hidden": outcome.skipped_hidden,
        "changed": len(outcome.skipped_changed),
        "remaining": outcome.remaining,
    }
    # "case(s)" rather than ngettext: the summary holds several counts, and one sentence per count reads worse.
    if outcome.skipped_changed:
        summary = (
            _(
                "Decided %(decided)s case(s); skipped %(protected)s protected, %(held)s held by others, "
                "%(hidden)s hidden from you, %(changed)s changed meanwhile."
            )
            % counts
        )
    else:
        summary = (
            _(
                "Decided %(decided)s case(s); skipped %(protected)s protected, %(held)s held by others, "
                "%(hidden)s hidden from you."
            )
            % counts
        )
    if outcome.remaining:
        summary += " " + _("%(remaining)s more open case(s) remain: decide the campaign again.") % counts
    messages.add_message(request, messages.SUCCESS if not skipped else messages.INFO, summary)
    return redirect("cases:campaign", campaign_id=campaign_id)
