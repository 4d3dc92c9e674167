"""Refuse oversized API bodies before anything reads them."""

from django.conf import settings
from django.http import JsonResponse


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
