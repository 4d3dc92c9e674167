"""The case page's tools beside the decision: action choices per policy, the user-message preview, notes,
tags, muting a reporter, and retrying a failed delivery. Thin: authorize, call one service, render."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases import review_selectors, selectors
from cases.services import outbox
from cases.services.messages import compose_user_message
from cases.services.review import case_work
from cases.views import _int, _render_review, _toast, _visible_case
from moderation.errors import Forbidden, Invalid
from moderation.models import Action, Policy
from moderation.page_errors import page_status, with_error_toast


@login_required
@require_GET
def action_choices(request: HttpRequest, case_id: int) -> HttpResponse:
    """The actions allowed under the chosen policy (the decision form swaps them in)."""
    case = _visible_case(request, case_id)
    policy_id = _int(request.GET.get("policy"))
    context = {"case": case, "actions": selectors.allowed_actions(policy_id)}
    if not request.htmx:
        return redirect(f"{reverse('cases:review', args=[case.pk])}")
    return render(request, "cases/review.html#action-choices", context)


@login_required
@require_POST
def add_note(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    error = None
    try:
        case_work.add_case_note(case_id=case.pk, user=request.user, body=request.POST.get("body", ""))
    except (Invalid, Forbidden) as exc:
        error = exc
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    data = review_selectors.case_review(case=case, user=request.user, now=timezone.now())
    context = {"case": case, "review": data, "note_error": error, "note_body": request.POST.get("body", "")}
    response = render(
        request, "cases/review.html#notes", context, status=page_status(error) if error else 200
    )
    return with_error_toast(request, response, error) if error else response


@login_required
@require_POST
def change_tags(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    error = None
    try:
        if request.POST.get("remove"):
            case_work.untag_subject(case_id=case.pk, user=request.user, tag=request.POST["remove"])
        else:
            case_work.tag_subject(case_id=case.pk, user=request.user, tag=request.POST.get("tag", ""))
    except (Invalid, Forbidden) as exc:
        error = exc
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    data = review_selectors.case_review(case=case, user=request.user, now=timezone.now())
    context = {"case": case, "review": data, "tag_error": error}
    response = render(request, "cases/review.html#tags", context, status=page_status(error) if error else 200)
    return with_error_toast(request, response, error) if error else response


@login_required
@require_POST
def retry_enforcement(request: HttpRequest, case_id: int, enforcement_id: int) -> HttpResponse:
    """A lead re-sends a failed enforcement (same body, same idempotency key)."""
    return _retry_delivery(request, case_id, outbox.ENFORCEMENT, enforcement_id, "enforcements")


@login_required
@require_POST
def retry_vendor_callback(request: HttpRequest, case_id: int, callback_id: int) -> HttpResponse:
    """A lead re-sends a failed vendor callback (same body, same idempotency key)."""
    return _retry_delivery(request, case_id, outbox.VENDOR_CALLBACK, callback_id, "vendor_callbacks")


def _retry_delivery(
    request: HttpRequest, case_id: int, kind: outbox.Kind, message_id: int, partial: str
) -> HttpResponse:
    case = _visible_case(request, case_id)
    if not request.user.has_perm("cases.retry_enforcement"):
        return HttpResponse(_("Only leads can retry deliveries."), status=403, content_type="text/plain")
    if not kind.model.objects.filter(pk=message_id, case=case).exists():
        raise Http404("No such delivery")
    retried = outbox.retry(kind=kind, message_id=message_id, user=request.user)
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    data = review_selectors.case_review(case=case, user=request.user, now=timezone.now())
    response = render(request, f"cases/review.html#{partial}", {"case": case, "review": data})
    return _toast(
        response,
        _("Delivery queued again.") if retried else _("Nothing to retry."),
        "success" if retried else "info",
    )


@login_required
@require_POST
def mute_reporter(request: HttpRequest, case_id: int, report_id: int) -> HttpResponse:
    """Leads: mute (or unmute) the reporter of one of this case's reports."""
    case = _visible_case(request, case_id)
    muted = request.POST.get("muted", "1") == "1"
    # Refusals (Forbidden for non-leads, Invalid for a report without a reporter) are answered by
    # moderation.page_errors.
    case_work.set_reporter_muted(
        case_id=case.pk,
        user=request.user,
        report_id=report_id,
        muted=muted,
        reason=request.POST.get("reason", ""),
    )
    response = _render_review(request, case) if request.htmx else redirect("cases:review", case_id=case.pk)
    return _toast(response, _("Reporter muted.") if muted else _("Reporter unmuted."), request=request)


@login_required
@require_GET
def message_preview(request: HttpRequest, case_id: int) -> HttpResponse:
    """What the user would be told for the policy, action and reason chosen in the form (HTMX preview)."""
    case = _visible_case(request, case_id)
    policy = Policy.objects.filter(pk=_int(request.GET.get("policy")) or 0, is_active=True).first()
    action = Action.objects.filter(pk=_int(request.GET.get("action")) or 0, is_active=True).first()
    message = None
    if policy is not None and action is not None:
        message = compose_user_message(
            subject=case.subject,
            policy=policy,
            action=action,
            reason=request.GET.get("reason", "")[:5000],
            decision_id=None,
        )
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    return render(request, "cases/review.html#message-preview", {"case": case, "message": message})
