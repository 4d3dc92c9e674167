"""Site-level views: landing page, health check, JSON-aware error pages."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.db import connection
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from moderation.audit import Actor, Verb, record_event
from moderation.client_ip import client_ip
from moderation.login_throttle import (
    clear_failures,
    count_failure,
    is_locked_out,
    issue_device_cookie,
    login_attempt,
)


class StaffLoginView(LoginView):
    """Django's login, throttled (`moderation.login_throttle`): after LOGIN_MAX_FAILURES failed attempts in
    LOGIN_LOCKOUT_SECONDS, further attempts are refused (429) without checking the password, so guessing
    cannot continue. Counted per username and per address, except for a browser presenting a device cookie
    for the username, which is counted on its own (strangers cannot lock its owner out). Failures are
    audited. Two-factor, when required, follows the password whatever the cookie."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        self.attempt = login_attempt(request)
        if is_locked_out(self.attempt):
            form = self.get_form()
            # Never validated: validating would check the password, which a locked-out guesser must not get.
            form._errors, form.cleaned_data = ErrorDict(), {}
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            form.add_error(
                None,
                ngettext(
                    "Too many failed attempts. Try again in %(minutes)d minute.",
                    "Too many failed attempts. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
            )
            return self.render_to_response(self.get_context_data(form=form, locked=True), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        count_failure(self.attempt)
        record_event(
            actor=Actor.system("login"),
            verb=Verb.AUTH_LOGIN_FAILED,
            target=AuditTarget("auth.user", "-"),
            data={
                "username": (self.request.POST.get("username") or "")[:150],
                "ip": client_ip(self.request),
                "trusted_device": self.attempt.device is not None,
            },
        )
        return super().form_invalid(form)

    def form_valid(self, form):
        clear_failures(self.attempt)
        response = super().form_valid(form)
        issue_device_cookie(response, request=self.request, attempt=self.attempt)
        return response


@dataclass
class AuditTarget:
    """A stand-in target for audit events about something that is not a row (a login attempt)."""

    label_lower: str
    pk: str

    @property
    def _meta(self):
        return self


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    """Django-level 400s (disallowed Host, body over the upload limit while streaming): JSON on the API."""
    from django.core.exceptions import RequestDataTooBig

    if isinstance(exception, RequestDataTooBig):
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"error": "payload_too_large", "detail": "Request body is too large."}, status=413
            )
        return HttpResponse("Request body is too large.", status=413, content_type="text/plain")
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "bad_request", "detail": "Bad request."}, status=400)
    return HttpResponse("Bad request", status=400, content_type="text/plain")


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not_found", "detail": "No such endpoint."}, status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": "server_error", "detail": "Internal error; it has been logged."}, status=500
        )
    # No request context: the failure may be in what the context processors read (database, session).
    return HttpResponse(loader.get_template("500.html").render(), status=500)
