"""Site-level views: landing page, health check, JSON-aware error pages."""

from django.contrib.auth.views import LoginView
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


class StaffLoginView(LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


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
