"""The agent's case review page and what it posts. Thin: parse, authorize, call one service, render.

Every fragment URL here also answers a plain (non-HTMX) request, with a redirect or the full page.
"""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from cases import campaign_selectors, retention_selectors, selectors
from cases.detection.explanations import explain_case
from cases.detection.features import TRAINED_MODEL_PREFIX
from cases.evidence import shown_content
from cases.models import Case, MediaFile
from cases.services import appeals, outbox
from cases.services.messages import compose_user_message
from cases.services.review import case_work, decisions, second_chances
from moderation.errors import Conflict, Forbidden, Invalid
from moderation.models import Action, Policy
from moderation.page_errors import page_status, with_error_toast
from queues.selectors import visible_queue_ids
from queues.services import (
    ClaimRefused,
    can_reassign,
    claim_case,
    claim_next_case,
    eligible_agents,
    reassign_case,
    release_case,
    renew_lease,
    skip_case,
)

# Decisions and escalations from the page must say which version of the case the agent saw.
MISSING_VERSION = gettext_lazy(
    "The form did not say which version of the case you saw. Check the case below and try again."
)
SERVABLE_MEDIA_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _visible_case(request: HttpRequest, case_id: int) -> Case:
    # Among the cases the user may see: a restricted id answers exactly as a missing one.
    case = selectors.review_case(case_id, user=request.user)
    if case is None:
        raise Http404("No such case")
    return case


def _int(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _toast(response: HttpResponse, message: str, level: str = "success", *, request=None) -> HttpResponse:
    """Tell the agent what happened: an HTMX toast, or (when the answer navigates away) a message the next
    page shows, since htmx leaves the page before an event on a redirect could be seen."""
    navigates = response.status_code in (301, 302, 303) or "HX-Redirect" in response
    if navigates and request is not None:
        messages.add_message(request, messages.SUCCESS if level == "success" else messages.INFO, message)
        return response
    response["HX-Trigger"] = json.dumps({"toast": {"message": message, "level": level}})
    return response


def _render_review(request: HttpRequest, case: Case, *, status: int = 200, **extra) -> HttpResponse:
    data = selectors.case_review(case=case, user=request.user, now=timezone.now())
    context = {
        "review": data,
        "case": case,
        "subject": case.subject,
        "viewers": data.viewers,
        "holding": data.lease_is_mine,
        "first_beat": True,
        # Leads take over or reassign a case still open: who may work it (one query, for them only).
        "reassign_to": eligible_agents(case) if case.is_open and can_reassign(request.user) else None,
        "heartbeat_seconds": settings.CASE_HEARTBEAT_SECONDS,
        "campaigns": campaign_selectors.case_campaigns(case=case, user=request.user),
        # Leads see (and place, release) legal holds; one query, for them only.
        "legal_holds": retention_selectors.subject_holds(case.subject, request.user)
        if request.user.has_perm("cases.place_legal_hold")
        else None,
        # Only a case one of our models scored costs the explanation's queries.
        "model_explanation": explain_case(case)
        if any(s.model.startswith(TRAINED_MODEL_PREFIX) for s in data.signals)
        else None,
        **extra,
    }
    context.setdefault("selected_policy_id", case.policy_id)
    context["actions"] = selectors.allowed_actions(context["selected_policy_id"])
    htmx_main = bool(request.htmx) and request.htmx.target == "case-main"
    template = "cases/review.html#case-main" if htmx_main else "cases/review.html"
    return render(request, template, context, status=status)


@login_required
@require_GET
def case_page(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    return _render_review(request, case)


def _next_case(request: HttpRequest, queue, message: str) -> HttpResponse:
    """After a decision, skip or escalation: the queue's next case in place (HTMX), or a redirect to it."""
    if queue is None or queue.pk not in visible_queue_ids(request.user):
        response = (
            HttpResponseClientRedirect(reverse("queues:dashboard"))
            if request.htmx
            else redirect("queues:dashboard")
        )
        return _toast(response, message, request=request)
    if not request.htmx:
        # The next-case URL claims on a same-origin GET.
        return _toast(redirect("queues:next", slug=queue.slug), message, request=request)
    try:
        case = claim_next_case(user=request.user, queue=queue)
    except ClaimRefused:
        case = None
    if case is None:
        response = render(request, "queues/empty.html#empty-queue", {"queue": queue})
        response["HX-Push-Url"] = reverse("queues:queue", args=[queue.slug])
        return _toast(response, message)
    case = selectors.review_case(case.pk)
    response = _render_review(request, case)
    response["HX-Push-Url"] = reverse("cases:review", args=[case.pk])
    return _toast(response, message)


def _change_case(request: HttpRequest, case: Case | int, act, *, on_refused, on_done) -> HttpResponse:
    """What every form that changes a case shares (decide, escalate, confirm, appeal outcome): the version
    the agent saw is required; refused input (Invalid, 422) or a refused permission (Forbidden, 403)
    re-renders the case with the form's error; a conflict re-renders the case as it is now (409) and nothing
    is written; success goes on with `on_done`. (NotFound is the middleware's 404.)

    `case` may be just the id: the service finds the case among those the user may see (and 404s as a
    missing one does), so a successful change never loads it twice; only a refusal loads it to re-render."""
    version = _int(request.POST.get("version"))
    if version is None:
        return _render_review(request, _loaded(request, case), status=409, conflict=MISSING_VERSION)
    try:
        result = act(version)
    except Conflict as exc:
        fresh = selectors.review_case(case if isinstance(case, int) else case.pk)
        return _render_review(request, fresh, status=page_status(exc), conflict=exc.message)
    except (Invalid, Forbidden) as exc:
        response = _render_review(request, _loaded(request, case), status=page_status(exc), **on_refused(exc))
        return with_error_toast(request, response, exc)
    return on_done(result)


def _loaded(request: HttpRequest, case: Case | int) -> Case:
    return _visible_case(request, case) if isinstance(case, int) else case


@login_required
@require_POST
def decide(request: HttpRequest, case_id: int) -> HttpResponse:
    # Not loaded here: `record_decision` locks it among the cases the user may see (404 otherwise), and
    # the answer uses the case it locked. Only a refused decision loads it again, to show the form's error.
    form = {
        "policy": _int(request.POST.get("policy")),
        "action": _int(request.POST.get("action")),
        "reason": request.POST.get("reason", ""),
        "notes": request.POST.get("notes", ""),
        "subject_version": _int(request.POST.get("subject_version")),
    }

    def after(decision) -> HttpResponse:
        case = decision.case
        message = _("Case %(case_id)s: %(action)s (%(policy)s).") % {
            "case_id": case.pk,
            "action": decision.action.name,
            "policy": decision.policy.name,
        }
        if request.POST.get("then") == "stay":
            response = _toast(_render_review(request, selectors.review_case(case.pk)), message)
        else:
            response = _next_case(request, case.queue, message)
        return _offer_undo(response, case, decision)

    def refused(exc) -> dict:
        # Without a chosen policy the page preselects the case's own (`_render_review`'s default).
        chosen = {"selected_policy_id": form["policy"]} if form["policy"] else {}
        return {"decision_error": exc, "decision_input": form, **chosen}

    return _change_case(
        request,
        case_id,
        lambda version: decisions.record_decision(
            case_id=case_id,
            user=request.user,
            policy_id=form["policy"],
            action_id=form["action"],
            reason=form["reason"],
            notes=form["notes"],
            expected_version=version,
            subject_version=form["subject_version"],
        ),
        on_refused=refused,
        on_done=after,
    )


def _offer_undo(response: HttpResponse, case: Case, decision) -> HttpResponse:
    """The toast after a decision carries its Undo button for the undo window (HTMX answers only; a full
    page shows the Undo form on the decided case instead)."""
    if decision.undo_until is None or "HX-Trigger" not in response:
        return response
    trigger = json.loads(response["HX-Trigger"])
    trigger["toast"]["undo"] = {
        "url": reverse("cases:undo", args=[case.pk]),
        "decision": decision.pk,
        "seconds": max(int((decision.undo_until - timezone.now()).total_seconds()), 1),
    }
    response["HX-Trigger"] = json.dumps(trigger)
    return response


@login_required
@require_POST
def undo(request: HttpRequest, case_id: int) -> HttpResponse:
    """The decider takes their decision back inside the undo window: the case is theirs again, in place."""
    case = _visible_case(request, case_id)
    try:
        second_chances.undo_decision(
            case_id=case.pk, user=request.user, decision_id=_int(request.POST.get("decision")) or 0
        )
    except Conflict as exc:
        # 409: a second undo or one after the window. Nothing is swapped: the page the agent is on stays.
        response = HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
        response["HX-Reswap"] = "none"
        return _toast(response, exc.message, "error")
    message = _("Decision on case %(case_id)s undone: it is yours again.") % {"case_id": case.pk}
    if not request.htmx:
        return _toast(redirect("cases:review", case_id=case.pk), message, request=request)
    response = _render_review(request, selectors.review_case(case.pk))
    response["HX-Push-Url"] = reverse("cases:review", args=[case.pk])
    return _toast(response, message)


@login_required
@require_POST
def withdraw(request: HttpRequest, case_id: int) -> HttpResponse:
    """A lead reverses the decision in force (optionally reopening the case); the case re-rendered."""
    case = _visible_case(request, case_id)
    reason = request.POST.get("withdraw_reason", "")
    reopen = request.POST.get("reopen") == "1"
    return _change_case(
        request,
        case,
        lambda version: second_chances.withdraw_decision(
            case_id=case.pk, user=request.user, reason=reason, reopen=reopen, expected_version=version
        ),
        on_refused=lambda exc: {"withdraw_error": exc, "withdraw_reason": reason},
        on_done=lambda decision: _toast(
            _render_review(request, selectors.review_case(case.pk)),
            (
                _("Case %(case_id)s: %(action)s reversed and reopened.")
                if reopen
                else _("Case %(case_id)s: %(action)s reversed.")
            )
            % {"case_id": case.pk, "action": decision.action.name},
        ),
    )


@login_required
@require_POST
def reassign(request: HttpRequest, case_id: int) -> HttpResponse:
    """A lead takes the case over (no agent chosen: themselves) or gives it to another eligible agent."""
    case = _visible_case(request, case_id)
    to_user_id = _int(request.POST.get("assignee")) or request.user.pk
    return _change_case(
        request,
        case,
        lambda version: reassign_case(
            case_id=case.pk, user=request.user, to_user_id=to_user_id, expected_version=version
        ),
        on_refused=lambda exc: {"reassign_error": exc},
        on_done=lambda changed: _toast(
            _render_review(request, selectors.review_case(case.pk)),
            _("Case %(case_id)s is now held by %(agent)s.")
            % {"case_id": case.pk, "agent": changed.assignee.get_username()},
        ),
    )


@login_required
@require_POST
def escalate(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    note = request.POST.get("note", "")
    return _change_case(
        request,
        case,
        lambda version: case_work.escalate_case(
            case_id=case.pk,
            user=request.user,
            queue_id=_int(request.POST.get("queue")),
            note=note,
            expected_version=version,
        ),
        on_refused=lambda exc: {"escalation_error": exc, "escalation_note": note},
        on_done=lambda escalated: _next_case(
            request,
            case.queue,
            _("Case %(case_id)s escalated to %(queue)s.")
            % {"case_id": case.pk, "queue": escalated.queue.name},
        ),
    )


@login_required
@require_POST
def claim(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _visible_case(request, case_id)
    try:
        claimed = claim_case(case_id=case.pk, user=request.user)
    except Conflict as exc:  # HoldLimitReached: the agent already holds as many cases as they may
        return _render_review(request, case, status=page_status(exc), conflict=exc.message)
    case = selectors.review_case(case.pk)
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
        "viewers": selectors.case_viewers(case_id=case.pk, user=request.user, now=now),
        "lease_lost": lease_lost,
        # Once lost, stays lost: the page keeps saying "holding" so every later beat repeats the warning.
        "holding": case.assignee_id == request.user.pk or lease_lost,
        "heartbeat_seconds": settings.CASE_HEARTBEAT_SECONDS,
        # Reports that add no new content leave the agent's form valid: the page only says they arrived.
        "reports_seen": reports_seen if reports_seen is not None else case.report_count,
        "new_reports": max(case.report_count - reports_seen, 0) if reports_seen is not None else 0,
    }
    return render(request, "cases/review.html#presence", context)


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
    data = selectors.case_review(case=case, user=request.user, now=timezone.now())
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
    data = selectors.case_review(case=case, user=request.user, now=timezone.now())
    context = {"case": case, "review": data, "tag_error": error}
    response = render(request, "cases/review.html#tags", context, status=page_status(error) if error else 200)
    return with_error_toast(request, response, error) if error else response


def _shown_media(case: Case) -> list[str]:
    """The media of the content version the case shows (the same list the page numbers)."""
    return [str(url) for url in (shown_content(case).media_urls or [])]


def _media_item(case: Case, index: int, user) -> selectors.MediaItem:
    urls = _shown_media(case)
    if not 0 <= index < min(len(urls), 20):
        raise Http404("No such media item")
    stored = MediaFile.objects.defer("content").filter(url_hash=selectors.media_url_hash(urls[index])).first()
    return selectors.MediaItem(index, urls[index], stored, _withheld(stored, case, user))


def _withheld(stored, case: Case, user) -> bool:
    return stored is not None and bool(selectors.withheld_media([stored], case=case, user=user))


@login_required
@require_POST
def reveal_media(request: HttpRequest, case_id: int, index: int) -> HttpResponse:
    """Unblur one media item for this agent: recorded in the audit log before anything is shown."""
    case = _visible_case(request, case_id)
    item = _media_item(case, index, request.user)
    case_work.reveal_media(case_id=case.pk, user=request.user, index=index)
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    return render(request, "cases/review.html#media-item", {"case": case, "item": item, "revealed": True})


@login_required
@require_GET
def media_item(request: HttpRequest, case_id: int, index: int) -> HttpResponse:
    """The blurred tile again ("blur again")."""
    case = _visible_case(request, case_id)
    item = _media_item(case, index, request.user)
    if not request.htmx:
        return redirect("cases:review", case_id=case.pk)
    return render(request, "cases/review.html#media-item", {"case": case, "item": item, "revealed": False})


@login_required
@require_GET
def media_file(request: HttpRequest, case_id: int, index: int) -> HttpResponse:
    """The stored copy of a media item, from this app (the original host is never contacted by browsers).

    Only raster image types are served, with nosniff and a sandboxing CSP, so a stored file can never run
    as a page. The blur is applied by the page; the reveal (audited) removes it.
    """
    case = _visible_case(request, case_id)
    urls = _shown_media(case)
    if not 0 <= index < min(len(urls), 20):
        raise Http404("No such media item")
    stored = MediaFile.objects.filter(
        url_hash=selectors.media_url_hash(urls[index]), state=MediaFile.State.STORED
    ).first()
    if (
        stored is None
        or stored.content_type not in SERVABLE_MEDIA_TYPES
        or _withheld(stored, case, request.user)
    ):
        raise Http404("Media not stored")
    # No byte of reported media reaches a browser unrecorded: the (blurred) load is audited here, the
    # deliberate unblurring by `reveal_media`. Never cached (moderation.middleware.no_store): a copy of reported
    # media must not stay on an agent's disk, so every load is fetched, and audited, again.
    case_work.record_media_served(case_id=case.pk, user=request.user, index=index)
    response = HttpResponse(bytes(stored.content), content_type=stored.content_type)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline"
    return response


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
    data = selectors.case_review(case=case, user=request.user, now=timezone.now())
    response = render(request, f"cases/review.html#{partial}", {"case": case, "review": data})
    return _toast(
        response,
        _("Delivery queued again.") if retried else _("Nothing to retry."),
        "success" if retried else "info",
    )


@login_required
@require_POST
def confirm(request: HttpRequest, case_id: int) -> HttpResponse:
    """A second agent confirms the decision awaiting confirmation; then the queue's next case."""
    case = _visible_case(request, case_id)
    return _change_case(
        request,
        case,
        lambda version: decisions.confirm_decision(
            case_id=case.pk, user=request.user, expected_version=version
        ),
        on_refused=lambda exc: {"decision_error": exc},
        on_done=lambda decision: _next_case(
            request,
            case.queue,
            _("Case %(case_id)s: confirmed %(action)s.")
            % {"case_id": case.pk, "action": decision.action.name},
        ),
    )


@login_required
@require_POST
def resolve_appeal(request: HttpRequest, case_id: int) -> HttpResponse:
    """Uphold or overturn the appeal on this case; then the queue's next case."""
    case = _visible_case(request, case_id)
    outcome = {"uphold": "upheld", "overturn": "overturned"}.get(request.POST.get("outcome", ""), "")
    reason = request.POST.get("reason", "")
    return _change_case(
        request,
        case,
        lambda version: appeals.resolve_appeal(
            case_id=case.pk, user=request.user, outcome=outcome, reason=reason, expected_version=version
        ),
        on_refused=lambda exc: {"decision_error": exc, "decision_input": {"reason": reason}},
        on_done=lambda appeal: _next_case(
            request,
            case.queue,
            _("Appeal %(appeal_id)s: %(state)s.")
            % {"appeal_id": appeal.pk, "state": appeal.get_state_display()},
        ),
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
