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

from cases import campaign_selectors, retention_selectors, review_selectors, selectors
from cases.detection.explanations import explain_case
from cases.detection.features import TRAINED_MODEL_PREFIX
from cases.models import Case
from cases.services import appeals
from cases.services.review import case_work, decisions, second_chances
from moderation.errors import Conflict, Forbidden, Invalid
from moderation.page_errors import page_status, with_error_toast
from queues.selectors import visible_queue_ids
from queues.services import (
    ClaimRefused,
    can_reassign,
    claim_next_case,
    eligible_agents,
    reassign_case,
)

# Decisions and escalations from the page must say which version of the case the agent saw.
MISSING_VERSION = gettext_lazy(
    "The form did not say which version of the case you saw. Check the case below and try again."
)


def _visible_case(request: HttpRequest, case_id: int) -> Case:
    # Among the cases the user may see: a restricted id answers exactly as a missing one.
    case = review_selectors.review_case(case_id, user=request.user)
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
    data = review_selectors.case_review(case=case, user=request.user, now=timezone.now())
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
    case = review_selectors.review_case(case.pk)
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
        fresh = review_selectors.review_case(case if isinstance(case, int) else case.pk)
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
            response = _toast(_render_review(request, review_selectors.review_case(case.pk)), message)
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
    response = _render_review(request, review_selectors.review_case(case.pk))
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
            _render_review(request, review_selectors.review_case(case.pk)),
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
            _render_review(request, review_selectors.review_case(case.pk)),
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
