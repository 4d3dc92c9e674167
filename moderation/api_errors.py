"""One error shape for every API failure, and a JSON parser that cannot be made to 500.

Every error body is `{"error": <code>, "detail": <message>, "fields": {<dotted.path>: [<message>, ...]}}`;
`fields` appears for validation errors and names each bad field (`subject.kind`, `scores.0.score`).
"""

import json
import logging
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from moderation.content import find_unstorable_text
from moderation.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

logger = logging.getLogger(__name__)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"


class BadContent(exceptions.ParseError):
    """Well-formed JSON the database cannot store (NUL characters, lone surrogates)."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path = path


class BoundedJSONParser(JSONParser):
    """JSON only; refuses bodies over API_MAX_BODY_BYTES (413), bad nesting and unstorable text (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"Request body is over the {limit}-byte limit.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body is over the {limit}-byte limit.")
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise exceptions.ParseError(f"Body is not valid JSON: {exc}") from None
        except RecursionError:
            raise exceptions.ParseError("Body is nested too deeply.") from None
        view = (parser_context or {}).get("view")
        if not getattr(view, "checks_content_per_item", False):
            problem = find_unstorable_text(data)
            if problem:
                raise BadContent(*problem)
        return data


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail → {"subject.kind": ["..."], "scores.0.score": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = (
                prefix if key == "non_field_errors" and prefix else key if not prefix else f"{prefix}.{key}"
            )
            if key == "non_field_errors" and not prefix:
                name = "body"
            for path, messages in flatten_errors(value, name).items():
                out.setdefault(path, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "body"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    for path, messages in flatten_errors(
                        item, f"{prefix}.{index}" if prefix else str(index)
                    ).items():
                        out.setdefault(path, []).extend(messages)
    else:
        out[prefix or "body"] = [str(detail)]
    return out


# A service's refusal (`moderation.errors`) as an API answer: the one place the API maps the kinds.
API_STATUS: dict[type[DomainError], tuple[int, str]] = {
    NotFound: (status.HTTP_404_NOT_FOUND, "not_found"),
    Forbidden: (status.HTTP_403_FORBIDDEN, "permission_denied"),
    Conflict: (status.HTTP_409_CONFLICT, "conflict"),
    Invalid: (status.HTTP_400_BAD_REQUEST, "validation_error"),
}


def domain_error_response(exc: DomainError) -> Response:
    """NotFound and Forbidden say only what went wrong; Conflict and Invalid also name the field, and a
    Conflict the object already there (`existing`)."""
    code, name = next(value for kind, value in API_STATUS.items() if isinstance(exc, kind))
    body: dict[str, Any] = {"error": name, "detail": exc.message}
    if isinstance(exc, (Conflict, Invalid)):
        field = "body" if exc.field == "__all__" else exc.field
        body["fields"] = {field: [exc.message]}
        if isinstance(exc, Invalid):
            body["detail"] = _summary(body["fields"])
    if isinstance(exc, Conflict) and exc.existing is not None:
        body["existing"] = {"id": exc.existing}
    return Response(body, status=code)


def api_exception_handler(exc, context):
    from rest_framework.views import exception_handler  # DRF views import our parser via settings

    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, (OperationalError, InterfaceError)):
            # The database is unreachable or went away: nothing was committed (every write is one
            # transaction), so the client may simply retry later.
            logger.error("database unavailable for %s: %s", context["request"].path, exc)
            unavailable = Response(
                {"error": "unavailable", "detail": "The service is briefly unavailable; retry later."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
            unavailable["Retry-After"] = str(settings.API_RETRY_AFTER_SECONDS)
            return unavailable
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        body = {"error": "validation_error", "detail": _summary(fields), "fields": fields}
    elif isinstance(exc, BadContent):
        # Same shape as any validation error: the field, and what is wrong with it.
        fields = {exc.path: [f"Value {exc.detail}."]}
        body = {"error": "validation_error", "detail": _summary(fields), "fields": fields}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        body = {"error": code if isinstance(code, str) else "error", "detail": _detail_text(exc)}
    response.data = body
    return response


def _detail_text(exc) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail) if detail is not None else str(exc)


def _summary(fields: dict[str, list[str]]) -> str:
    names = ", ".join(list(fields)[:10])
    return f"Invalid input in: {names}." if names else "Invalid input."


class StrictContentNegotiation(DefaultContentNegotiation):
    """A request body must say exactly `application/json`: wildcards such as `*/*` are not a content type."""

    def select_parser(self, request, parsers):
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        for parser in parsers:
            if parser.media_type == content_type:
                return parser
        return None


class VendorRateThrottle(SimpleRateThrottle):
    """Per-vendor request rate (`API_RATE_LIMIT`, e.g. "6000/min"), counted in the shared cache (Redis in
    production, so all web workers count together). Over it: 429 with Retry-After."""

    scope = "vendor"

    def get_cache_key(self, request, view):
        vendor = getattr(request, "user", None)
        pk = getattr(vendor, "pk", None)
        return None if pk is None else self.cache_format % {"scope": self.scope, "ident": pk}
