"""Refuse oversized API bodies before anything reads them; send HTMX requests of expired sessions to login; let
no answer of the app be stored by a browser or a proxy."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import resolve_url
from whitenoise.middleware import WhiteNoiseFileResponse


def api_body_limit(get_response):
    def middleware(request):
        if request.path.startswith("/api/"):
            declared = request.META.get("CONTENT_LENGTH", "")
            if declared.isdigit() and int(declared) > settings.API_MAX_BODY_BYTES:
                return JsonResponse(
                    {
                        "error": "payload_too_large",
                        "detail": f"Request body is over the {settings.API_MAX_BODY_BYTES}-byte limit.",
                    },
                    status=413,
                )
        return get_response(request)

    return middleware


def htmx_login_redirect(get_response):
    """An HTMX request whose session ran out would follow the login redirect and swap the login page into a
    fragment (a password form inside the case page). Tell htmx to navigate to the login page instead."""

    def middleware(request):
        response = get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code in (301, 302, 303)
            and response.get("Location", "").split("?", 1)[0] == resolve_url(settings.LOGIN_URL)
        ):
            redirect = HttpResponse(status=200)
            redirect["HX-Redirect"] = response["Location"]
            return redirect
        return response

    return middleware


def no_store(get_response):
    """`Cache-Control: no-store` on everything the app answers: cases, queues, the audit log and its export, the
    API, the login and two-factor pages, stored media, redirects and errors. What agents see is the worst
    content on a platform and personal data: no copy may stay in a shared workstation's disk cache, a proxy, or
    the back-button history after logout. Views cannot opt out. First in MIDDLEWARE, so the answers of other
    middleware (HTTPS redirects, 413s) are covered too; static files served by WhiteNoise keep their caching."""

    def middleware(request):
        response = get_response(request)
        if not isinstance(response, WhiteNoiseFileResponse) and "no-store" not in response.get(
            "Cache-Control", ""
        ):
            response["Cache-Control"] = "no-store"
        return response

    return middleware
