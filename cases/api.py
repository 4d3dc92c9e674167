"""Intake REST API (v1). Views parse, authorise, call one service or selector, render."""

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import selectors
from cases.api_schema import (
    AUTH_ERRORS,
    COMMON_ERRORS,
    CONFLICT_BODY,
    ERROR_BODY,
    PREFER_ASYNC,
    REPORT_EXAMPLE,
)
from cases.models import Appeal
from cases.serializers import (
    MAX_APPEAL_ID,
    MAX_APPEAL_STATEMENT,
    AppealInputSerializer,
    BatchInputSerializer,
    BatchResultSerializer,
    CaseOutSerializer,
    ReportAcceptedSerializer,
    ReportCreatedSerializer,
    ReportInputSerializer,
    ReportOutSerializer,
)
from cases.services.appeals import file_appeal
from cases.services.intake import accept_reports
from cases.services.intake_accept_first import accept_reports_first
from cases.validation import parse_report
from moderation.content import find_unstorable_text, printable
from moderation.errors import Conflict


def wants_async(request) -> bool:
    """RFC 7240 `Prefer: respond-async` (among other preferences, any case)."""
    header = request.META.get("HTTP_PREFER", "")
    return any(token.split(";")[0].strip().lower() == "respond-async" for token in header.split(",") if token)


def _accepted_response(body: dict, code: int) -> Response:
    response = Response(body, status=code)
    response["Preference-Applied"] = "respond-async"
    return response


class ReportCreateView(APIView):
    @extend_schema(
        operation_id="create_report",
        summary="Send one report",
        description=(
            "Creates a report and attaches it to its subject's open case (or opens one). Idempotent per "
            "`external_id`: a replay with the same body returns 200 with the same ids and status `duplicate`; "
            "the same `external_id` with a different body returns 409. With `Prefer: respond-async` it "
            "answers 202 with the report's id as soon as it is stored, and the case follows shortly."
        ),
        request=ReportInputSerializer,
        parameters=[PREFER_ASYNC],
        responses={
            201: ReportCreatedSerializer,
            202: OpenApiResponse(
                ReportAcceptedSerializer, description="Accepted first (`Prefer: respond-async`)."
            ),
            200: OpenApiResponse(ReportCreatedSerializer, description="Duplicate of an earlier report."),
            409: OpenApiResponse(CONFLICT_BODY, description="external_id reused with a different body."),
            **COMMON_ERRORS,
        },
        examples=[
            OpenApiExample("Harassment report", value=REPORT_EXAMPLE, request_only=True),
            OpenApiExample(
                "Created",
                value={"id": 1201, "case_id": 311, "status": "created"},
                response_only=True,
                status_codes=["201"],
            ),
        ],
    )
    def post(self, request):
        item, errors = parse_report(request.data, selectors.active_policies_by_code())
        if errors:
            raise ValidationError(errors)
        if wants_async(request):
            return self._accept_first(request, item)
        (outcome,) = accept_reports(vendor=request.user, reports=[item])
        if outcome.status == "conflict":
            raise Conflict(outcome.detail, field="external_id", existing=outcome.report_id)
        body = {"id": outcome.report_id, "case_id": outcome.case_id, "status": outcome.status}
        return Response(
            body, status=status.HTTP_201_CREATED if outcome.status == "created" else status.HTTP_200_OK
        )

    def _accept_first(self, request, item) -> Response:
        (outcome,) = accept_reports_first(vendor=request.user, reports=[item])
        if outcome.status == "conflict":
            raise Conflict(outcome.detail, field="external_id", existing=outcome.report_id)
        body = {"id": outcome.report_id, "case_id": outcome.case_id, "status": outcome.status}
        if outcome.status == "duplicate":  # already on its case: what a plain replay answers
            return _accepted_response(body, status.HTTP_200_OK)
        response = _accepted_response(body, status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/reports/{outcome.report_id}"
        return response


class ReportBatchView(APIView):
    # Unstorable text or numbers in one item are that item's error, not the whole batch's.
    checks_content_per_item = True

    @extend_schema(
        operation_id="create_reports_batch",
        summary="Send up to 500 reports",
        description=(
            "Each item is validated and stored on its own terms: results come back in request order, one per "
            "item, as `created`, `duplicate` or `error` (with `fields`). One bad item never loses the good "
            "ones. Answers 200 when every item was accepted, 207 when any item is an error. With "
            "`Prefer: respond-async` the items are stored and answered at once (`accepted`, with their ids, "
            "202) and join their cases shortly."
        ),
        request=BatchInputSerializer,
        parameters=[PREFER_ASYNC],
        responses={
            200: BatchResultSerializer,
            202: BatchResultSerializer,
            207: BatchResultSerializer,
            **COMMON_ERRORS,
        },
        examples=[
            OpenApiExample("Two reports", value={"reports": [REPORT_EXAMPLE]}, request_only=True),
            OpenApiExample(
                "Partial failure",
                value={
                    "results": [
                        {"index": 0, "external_id": "a-1", "status": "created", "id": 1, "case_id": 1},
                        {
                            "index": 1,
                            "external_id": "a-2",
                            "status": "error",
                            "error": "validation_error",
                            "fields": {"subject.kind": ['"tweet" is not a valid choice.']},
                        },
                    ],
                    "summary": {"created": 1, "duplicate": 0, "error": 1},
                },
                response_only=True,
                status_codes=["207"],
            ),
        ],
    )
    def post(self, request):
        if isinstance(request.data, dict) and set(request.data) - {"reports"}:
            unknown = sorted(printable(str(key)) for key in set(request.data) - {"reports"})
            raise ValidationError({name: ["Unknown field."] for name in unknown})
        raw_items = request.data.get("reports") if isinstance(request.data, dict) else None
        if not isinstance(raw_items, list) or not raw_items:
            raise ValidationError({"reports": ['Send {"reports": [...]} with at least one report.']})
        limit = settings.API_MAX_BATCH_SIZE
        if len(raw_items) > limit:
            raise ValidationError({"reports": [f"At most {limit} reports per batch; got {len(raw_items)}."]})

        policies = selectors.active_policies_by_code()
        results: list[dict] = [{} for _ in raw_items]
        valid_items, valid_indexes = [], []
        for index, raw in enumerate(raw_items):
            item, errors = parse_report(raw, policies)
            if errors:
                external_id = raw.get("external_id") if isinstance(raw, dict) else None
                if isinstance(external_id, str) and find_unstorable_text(external_id):
                    external_id = printable(external_id)  # echo what we can encode, never crash on it
                results[index] = {
                    "index": index,
                    "external_id": external_id if isinstance(external_id, str) else None,
                    "status": "error",
                    "error": "validation_error",
                    "fields": errors,
                }
            else:
                valid_items.append(item)
                valid_indexes.append(index)

        accept = accept_reports_first if wants_async(request) else accept_reports
        for index, outcome in zip(
            valid_indexes, accept(vendor=request.user, reports=valid_items), strict=True
        ):
            result = {"index": index, "external_id": outcome.external_id}
            if outcome.status == "conflict":
                result |= {
                    "status": "error",
                    "error": "conflict",
                    "detail": outcome.detail,
                    "fields": {"external_id": [outcome.detail]},
                }
            else:
                result |= {"status": outcome.status, "id": outcome.report_id, "case_id": outcome.case_id}
            results[index] = result

        summary = {"created": 0, "duplicate": 0, "error": 0} | (
            {"accepted": 0} if accept is not accept_reports else {}
        )
        for result in results:
            summary[result["status"]] += 1
        code = status.HTTP_207_MULTI_STATUS if summary["error"] else status.HTTP_200_OK
        if accept is accept_reports:
            return Response({"results": results, "summary": summary}, status=code)
        # Accept-first: 202 when every item was accepted or already a report; 207 as ever when any failed.
        return _accepted_response(
            {"results": results, "summary": summary},
            code if summary["error"] else status.HTTP_202_ACCEPTED,
        )


class ReportDetailView(APIView):
    @extend_schema(
        operation_id="get_report",
        summary="Read back a report you sent",
        description="Only the vendor that sent a report can read it; any other id answers 404.",
        responses={200: ReportOutSerializer, 404: ERROR_BODY, **AUTH_ERRORS},
    )
    def get(self, request, report_id: int):
        report = selectors.vendor_report(vendor=request.user, report_id=report_id)
        accepted = None
        if report is None:
            accepted = selectors.vendor_accepted_report(vendor=request.user, report_id=report_id)
            if accepted is None:
                raise NotFound("No such report.")
            if accepted.report_id is not None and accepted.outcome != "conflict":
                # Grouped as a duplicate of a report sent plainly meanwhile under the same key: that one.
                report = selectors.vendor_report(vendor=request.user, report_id=accepted.report_id)
        if report is None:
            return self._accepted(accepted)
        body = {
            "status": "grouped",
            "id": report.pk,
            "external_id": report.external_id,
            "reason": report.reason,
            "received_at": report.received_at,
            "subject": {"kind": report.subject.kind, "external_id": report.subject.external_id},
            "case": selectors.case_outcome_for_vendor(vendor=request.user, case=report.case),
        }
        return Response(ReportOutSerializer(body).data)

    def _accepted(self, accepted) -> Response:
        """Accepted first and not on its case yet (or refused when grouped: its key was taken meanwhile)."""
        payload = accepted.payload
        body = {
            "status": "conflict" if accepted.outcome == "conflict" else "accepted",
            "id": accepted.pk,
            "external_id": accepted.external_id,
            "reason": payload["reason"],
            "received_at": accepted.accepted_at,
            "subject": {"kind": payload["subject"]["kind"], "external_id": payload["subject"]["external_id"]},
            "case": None,
        }
        return Response(ReportOutSerializer(body).data)


class CaseDetailView(APIView):
    @extend_schema(
        operation_id="get_case",
        summary="Read the outcome of a case you reported on",
        description="Status and, once decided, the action and when. Cases you sent no report on answer 404.",
        responses={200: CaseOutSerializer, 404: ERROR_BODY, **AUTH_ERRORS},
    )
    def get(self, request, case_id: int):
        case = selectors.vendor_case(vendor=request.user, case_id=case_id)
        if case is None:
            raise NotFound("No such case.")
        return Response(
            CaseOutSerializer(selectors.case_outcome_for_vendor(vendor=request.user, case=case)).data
        )


APPEAL_FIELDS = set(AppealInputSerializer().fields)


def _appeal_body(appeal) -> dict:
    return {
        "id": appeal.pk,
        "external_id": appeal.external_id,
        "decision_id": appeal.decision_id,
        "case_id": appeal.appeal_case_id,
        "status": appeal.state,
        "outcome_reason": appeal.outcome_reason,
        "filed_at": appeal.created_at,
        "decided_at": appeal.resolved_at,
    }


APPEAL_OUT = inline_serializer(
    "Appeal",
    {
        "id": drf_serializers.IntegerField(),
        "external_id": drf_serializers.CharField(),
        "decision_id": drf_serializers.IntegerField(),
        "case_id": drf_serializers.IntegerField(),
        "status": drf_serializers.ChoiceField(choices=["open", "upheld", "overturned"]),
        "outcome_reason": drf_serializers.CharField(),
        "filed_at": drf_serializers.DateTimeField(),
        "decided_at": drf_serializers.DateTimeField(allow_null=True),
    },
)


def _parse_appeal(data) -> tuple[dict, dict]:
    """Strict like report intake: strings are strings, the id an integer, unknown fields refused."""
    if not isinstance(data, dict):
        return {}, {"non_field_errors": ["Send a JSON object."]}
    errors: dict[str, list[str]] = {}
    for name in sorted(set(data) - APPEAL_FIELDS):
        errors[printable(str(name))] = ["Unknown field."]
    parsed: dict = {}
    for name, limit, required in (
        ("external_id", MAX_APPEAL_ID, True),
        ("statement", MAX_APPEAL_STATEMENT, True),
        ("appellant_id", 255, False),
    ):
        value = data.get(name, "")
        if not isinstance(value, str):
            errors[name] = ["Must be a string."]
        elif required and not value.strip():
            errors[name] = ["This field is required."]
        elif len(value) > limit:
            errors[name] = [f"At most {limit} characters."]
        elif find_unstorable_text(value):
            errors[name] = ["Contains characters that cannot be stored (NUL or lone surrogates)."]
        else:
            parsed[name] = value.strip() if name != "statement" else value
    decision_id = data.get("decision_id")
    if isinstance(decision_id, bool) or not isinstance(decision_id, int) or not 0 < decision_id < 2**63:
        errors["decision_id"] = ["Must be a positive integer."]
    else:
        parsed["decision_id"] = decision_id
    return parsed, errors


class AppealCreateView(APIView):
    @extend_schema(
        operation_id="create_appeal",
        summary="Appeal a decision on behalf of the affected user",
        description=(
            "Opens an appeal case in the appeals queue, reviewed by an agent who had no part in the decision. "
            "Idempotent per `external_id`: a replay answers 200 with the same appeal; a different body under "
            "the same key, or a second appeal of the same decision, answers 409. Only decisions on cases you "
            "reported on can be appealed (others answer 404)."
        ),
        request=AppealInputSerializer,
        responses={201: APPEAL_OUT, 200: APPEAL_OUT, 404: ERROR_BODY, 409: CONFLICT_BODY, **COMMON_ERRORS},
    )
    def post(self, request):
        parsed, errors = _parse_appeal(request.data)
        if errors:
            raise ValidationError(errors)
        filed = file_appeal(  # NotFound / Conflict answer 404 / 409 (moderation.api_errors)
            vendor=request.user,
            external_id=parsed["external_id"],
            decision_id=parsed["decision_id"],
            statement=parsed["statement"],
            appellant_id=parsed.get("appellant_id", ""),
        )
        return Response(
            _appeal_body(filed.appeal),
            status=status.HTTP_201_CREATED if filed.created else status.HTTP_200_OK,
        )


class AppealDetailView(APIView):
    @extend_schema(
        operation_id="get_appeal",
        summary="Read an appeal's outcome",
        description="`open` until an agent decides; then `upheld` or `overturned` with the reason for the user.",
        responses={200: APPEAL_OUT, 404: ERROR_BODY, **AUTH_ERRORS},
    )
    def get(self, request, appeal_id: int):
        appeal = Appeal.objects.filter(pk=appeal_id, vendor=request.user).first()
        if appeal is None:
            raise NotFound("No such appeal.")
        return Response(_appeal_body(appeal))
