"""Domain errors (`moderation.errors`) as answers to pages and HTMX fragments: the one place that says which
kind is which status. (The API's mapping is `moderation.api_errors.api_exception_handler`.)

A view that re-renders its form with the error uses `page_status(error)`; anything it does not handle reaches
`DomainErrorMiddleware`, which answers with the kind's status: NotFound as the site's 404 page (the same as
any missing page), the others as the message in plain text. HTMX does not swap 403 or 404 answers into the
page (only 409 and 422 are content, see `templates/base.html`), so those also carry the message as a toast.
"""

import json

from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse

from moderation.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

PAGE_STATUS: dict[type[DomainError], int] = {NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 422}
SWAPPED = {409, 422}


def page_status(error: DomainError) -> int:
    for kind, status in PAGE_STATUS.items():
        if isinstance(error, kind):
            return status
    raise TypeError(f"{type(error).__name__} is not one of the domain error kinds")


def with_error_toast(request: HttpRequest, response: HttpResponse, error: DomainError) -> HttpResponse:
    """On an HTMX request answered with a status htmx will not swap in, say the message as a toast."""
    if getattr(request, "htmx", False) and response.status_code not in SWAPPED:
        response["HX-Trigger"] = json.dumps({"toast": {"message": error.message, "level": "error"}})
    return response


def error_response(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The answer to a domain error no view handled itself."""
    status = page_status(error)
    if status == 404:
        response = response_for_exception(request, Http404(error.message))
    else:
        response = HttpResponse(error.message, status=status, content_type="text/plain; charset=utf-8")
    return with_error_toast(request, response, error)


class DomainErrorMiddleware:
    """Turns a domain error escaping a page view into its answer (see the module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DomainError):
            return error_response(request, exception)
        return None
