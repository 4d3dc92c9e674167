"""Site-level views: landing page, health check, JSON-aware error pages."""

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.db import connection
from django.forms.utils import ErrorDict
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from moderation.audit import Actor, record_event


class StaffLoginView(LoginView):
    """Django's login, throttled: after LOGIN_MAX_FAILURES failed attempts for a username, or from one
    address, in LOGIN_LOCKOUT_SECONDS, further attempts are refused (429) without checking the password, so
    guessing cannot continue. Counted in the shared cache; failures and lockouts are audited."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        keys = _login_keys(request)
        if any((cache.get(key) or 0) >= settings.LOGIN_MAX_FAILURES for key in keys):
            form = self.get_form()
            # Never validated: validating would check the password, which a locked-out guesser must not get.
            form._errors, form.cleaned_data = ErrorDict(), {}
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            form.add_error(None, f"Too many failed attempts. Try again in {minutes} minutes.")
            return self.render_to_response(self.get_context_data(form=form, locked=True), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in _login_keys(self.request):
            if cache.add(key, 1, settings.LOGIN_LOCKOUT_SECONDS) is False:
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)
        record_event(
            actor=Actor.system("login"),
            verb="auth.login_failed",
            target=AuditTarget("auth.user", "-"),
            data={
                "username": (self.request.POST.get("username") or "")[:150],
                "ip": _client_ip(self.request),
            },
        )
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete(_login_keys(self.request)[0])  # the address keeps its count: other usernames still count
        return super().form_valid(form)


@dataclass
class AuditTarget:
    """A stand-in target for audit events about something that is not a row (a login attempt)."""

    label_lower: str
    pk: str

    @property
    def _meta(self):
        return self


def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")[:64]


def _login_keys(request) -> list[str]:
    username = (request.POST.get("username") or "").strip().lower()[:150]
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return [f"login-fail:user:{digest}", f"login-fail:ip:{_client_ip(request)}"]


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
    return HttpResponse("Not found", status=404, content_type="text/plain")


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": "server_error", "detail": "Internal error; it has been logged."}, status=500
        )
    return HttpResponse("Server error", status=500, content_type="text/plain")
