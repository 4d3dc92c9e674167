"""POST /api/v1/events: platform events for platforms without a stream, on the same path as the stream
consumer (`cases.services.events.ingest_events`)."""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.api import COMMON_ERRORS, CONFLICT_BODY
from cases.event_serializers import (
    EventBatchResultSerializer,
    EventInputSerializer,
    EventResultSerializer,
)
from cases.event_validation import parse_event
from cases.services.events import EventOutcome, ingest_events
from moderation.content import find_unstorable_text, printable
from moderation.errors import Conflict

EVENT_EXAMPLE = {
    "id": "evt-20261202-000017",
    "type": "message.posted",
    "occurred_at": "2026-12-02T09:30:00Z",
    "subject": {
        "kind": "message",
        "external_id": "msg-99120",
        "author_id": "user-4411",
        "text": "buy followers at cheap-followers.example",
        "language": "en",
    },
}


def _result(outcome: EventOutcome) -> dict:
    return {
        "id": outcome.event_id,
        "external_id": outcome.external_id,
        "status": outcome.status,
        "outcome": outcome.outcome,
        "case_id": outcome.case_id,
        "rule_id": outcome.rule_id,
    }


class EventIngestView(APIView):
    # Unstorable text in one batch item is that item's error, not the whole batch's.
    checks_content_per_item = True

    @extend_schema(
        operation_id="send_events",
        summary="Send one platform event, or up to 500",
        description=(
            "Detection runs on each event (matching banks, the event counters, the built-in model when a rule "
            "reads it) and the routing rules with an event trigger decide whether it opens a case or is decided "
            "automatically; most events open nothing. One event: 201 (new) or 200 (`duplicate`: the same id "
            "and body again, with what came of it then); the same id with another body is 409. "
            '`{"events": [...]}` (up to 500): per-item results in request order, 200 when all were accepted, 207 when '
            "any item is an error."
        ),
        # The single form is the documented request body (a oneOf would make the body optional in the
        # schema); the batch form is `EventBatchInput` in the description.
        request=EventInputSerializer,
        responses={
            201: EventResultSerializer,
            200: OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="EventOrBatchResult",
                    serializers=[EventResultSerializer, EventBatchResultSerializer],
                    resource_type_field_name=None,
                ),
                description="A duplicate event, or a batch whose items were all accepted.",
            ),
            207: EventBatchResultSerializer,
            409: OpenApiResponse(CONFLICT_BODY, description="An event id reused with a different body."),
            **COMMON_ERRORS,
        },
        examples=[OpenApiExample("A posted message", value=EVENT_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        data = request.data
        if isinstance(data, dict) and "events" in data:
            return self._batch(request, data)
        item, errors = parse_event(data)
        if errors:
            raise ValidationError(errors)
        (outcome,) = ingest_events(source=request.user, events=[item])
        if outcome.status == "conflict":
            raise Conflict(outcome.detail, field="id", existing=outcome.event_id)
        code = status.HTTP_201_CREATED if outcome.status == "created" else status.HTTP_200_OK
        return Response(_result(outcome), status=code)

    def _batch(self, request, data: dict) -> Response:
        if set(data) - {"events"}:
            raise ValidationError({printable(str(key)): ["Unknown field."] for key in set(data) - {"events"}})
        raw_items = data["events"]
        if not isinstance(raw_items, list) or not raw_items:
            raise ValidationError({"events": ['Send {"events": [...]} with at least one event.']})
        limit = settings.API_MAX_BATCH_SIZE
        if len(raw_items) > limit:
            raise ValidationError({"events": [f"At most {limit} events per batch; got {len(raw_items)}."]})
        results: list[dict] = [{} for _ in raw_items]
        valid, indexes = [], []
        for index, raw in enumerate(raw_items):
            item, errors = parse_event(raw)
            if errors:
                external_id = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(external_id, str) and find_unstorable_text(external_id):
                    external_id = printable(external_id)
                results[index] = {
                    "index": index,
                    "external_id": external_id if isinstance(external_id, str) else None,
                    "status": "error",
                    "error": "validation_error",
                    "fields": errors,
                }
            else:
                valid.append(item)
                indexes.append(index)
        for index, outcome in zip(indexes, ingest_events(source=request.user, events=valid), strict=True):
            if outcome.status == "conflict":
                results[index] = {
                    "index": index,
                    "external_id": outcome.external_id,
                    "status": "error",
                    "error": "conflict",
                    "detail": outcome.detail,
                    "fields": {"id": [outcome.detail]},
                }
            else:
                results[index] = {"index": index, **_result(outcome)}
        summary = {"created": 0, "duplicate": 0, "error": 0}
        for result in results:
            summary[result["status"]] += 1
        code = status.HTTP_207_MULTI_STATUS if summary["error"] else status.HTTP_200_OK
        return Response({"results": results, "summary": summary}, status=code)
