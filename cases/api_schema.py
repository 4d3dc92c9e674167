"""What the intake API's OpenAPI schema says about errors, the example report and `Prefer` (drf-spectacular),
kept apart from the views so each view reads as parse, authorise, call, render."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers as drf_serializers

ERROR_BODY = inline_serializer(
    "Error",
    {
        "error": drf_serializers.CharField(
            help_text="A stable code: `validation_error`, `not_authenticated`, `authentication_failed`, "
            "`not_found`, `payload_too_large`, `unsupported_media_type`, `throttled`, `unavailable`, ..."
        ),
        "detail": drf_serializers.CharField(help_text="What went wrong, for the developer."),
        # Only validation errors name fields; a 401 or 404 has nothing to point at.
        "fields": drf_serializers.DictField(
            child=drf_serializers.ListField(child=drf_serializers.CharField()),
            required=False,
            help_text="Validation errors only: each bad field's dotted path (`subject.kind`) and its messages.",
        ),
    },
)
CONFLICT_BODY = inline_serializer(
    "ConflictError",
    {
        "error": drf_serializers.CharField(help_text="`conflict`."),
        "detail": drf_serializers.CharField(),
        "fields": drf_serializers.DictField(
            child=drf_serializers.ListField(child=drf_serializers.CharField())
        ),
        "existing": inline_serializer(
            "ConflictingObject",
            {"id": drf_serializers.IntegerField()},
            required=False,
            help_text="The object already stored under this key, when there is one.",
        ),
    },
)

REPORT_EXAMPLE = {
    "external_id": "vendor-report-8812",
    "reason": "harassment",
    "subject": {
        "kind": "message",
        "external_id": "msg-99120",
        "author_id": "user-4411",
        "text": "you are worthless, log off forever",
        "media_urls": [],
        "language": "en",
        "url": "https://platform.example/messages/msg-99120",
        "metadata": {"channel": "dm"},
    },
    "reporter": {"id": "user-1002"},
    "comment": "keeps messaging me after I blocked them",
    "occurred_at": "2026-11-20T09:30:00Z",
    "scores": [{"label": "toxicity", "score": 0.91}],
}

# Any authenticated call can also be refused before the view runs: no or a bad token (401), over the vendor's
# rate (429, with Retry-After), or the database briefly unreachable (503, with Retry-After; nothing written).
AUTH_ERRORS = {
    401: OpenApiResponse(ERROR_BODY, description="Missing, invalid or revoked token."),
    429: OpenApiResponse(
        ERROR_BODY, description="Over the vendor's rate limit; retry after `Retry-After` seconds."
    ),
    503: OpenApiResponse(
        ERROR_BODY, description="Briefly unavailable, nothing was written; retry after `Retry-After` seconds."
    ),
}
COMMON_ERRORS = {
    400: OpenApiResponse(ERROR_BODY, description="Invalid input; `fields` names each bad field."),
    413: OpenApiResponse(ERROR_BODY, description="Body over the configured size."),
    415: OpenApiResponse(ERROR_BODY, description="Content-Type is not application/json."),
    **AUTH_ERRORS,
}


PREFER_ASYNC = OpenApiParameter(
    "Prefer",
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "`respond-async`: accept first. The report is stored durably and answered `202` with its id at once; "
        f"it joins its case within about {settings.INTAKE_GROUP_DELAY_SECONDS:g} s (`GET /api/v1/reports/{{id}}` "
        "shows it). Without it, the answer waits for the case (`201` with `case_id`)."
    ),
)
