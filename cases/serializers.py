"""The shape of intake requests and responses, for the OpenAPI schema.

Requests are validated by `cases.validation.parse_report` (hand-written for speed); these serializers
describe the same rules and `tests/cases/test_validation_parity.py` keeps the two in agreement.
"""

import json
from datetime import timedelta

from django.conf import settings
from django.core.validators import RegexValidator, URLValidator
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.models import Subject
from cases.validation import (
    LABEL_RE,
    MAX_MEDIA_URLS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_SCORES,
    MAX_TEXT,
    nesting_exceeds,
)

MAX_APPEAL_ID = 200
MAX_APPEAL_STATEMENT = 10_000

# Reported content may only point at web URLs: never javascript:, data:, file: and the like.
web_url = URLValidator(schemes=["http", "https"], message="Enter an http(s) URL.")
# Required ids and statements may not be blank: the runtime validators refuse a value that is empty after
# `str.strip()`. Documented as a pattern: "has a character that is not whitespace", with whitespace spelled out
# as exactly the characters Python strips (ECMA's `\s` differs: it lacks \x1c-\x1f and \x85 and has \ufeff).
PYTHON_WHITESPACE = (
    r"\t\n\u000b\f\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
not_blank = RegexValidator(f"[^{PYTHON_WHITESPACE}]", message="May not be blank.")
# BCP 47-ish language tag (blank is allowed by the field). `\Z`, not `$`: "en\n" is not a language tag.
language_tag = RegexValidator(
    r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}\Z",
    message="Use a BCP 47 language tag such as 'en' or 'pt-BR'.",
)
score_label = RegexValidator(LABEL_RE, message="Letters, digits and _ . : - only.")


class StrictInputSerializer(serializers.Serializer):
    pass  # A request object whose unknown fields are refused with 400: see StrictInputSchema.


class StrictInputSchema(OpenApiSerializerExtension):
    """Documents what the runtime validators enforce and drf-spectacular leaves out: unknown fields are refused
    (a typo such as `reasons` must not be silently dropped), and lists of objects have item limits."""

    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        for name, field in self.target.fields.items():
            prop = schema["properties"].get(name, {})
            if isinstance(field, serializers.ListSerializer) and prop.get("type") == "array":
                if field.min_length is not None:
                    prop["minItems"] = field.min_length
                if field.max_length is not None:
                    prop["maxItems"] = field.max_length
        return {**schema, "additionalProperties": False}


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "description": f"Any JSON object, nested at most {MAX_METADATA_DEPTH} levels and at most "
        f"{MAX_METADATA_BYTES} bytes as JSON.",
    }
)
class MetadataField(serializers.JSONField):
    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        if nesting_exceeds(data, MAX_METADATA_DEPTH):
            raise serializers.ValidationError(f"Nested deeper than {MAX_METADATA_DEPTH} levels.")
        if len(json.dumps(data, ensure_ascii=False).encode()) > MAX_METADATA_BYTES:
            raise serializers.ValidationError(f"Larger than {MAX_METADATA_BYTES} bytes.")
        return data


class SubjectInputSerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=Subject.Kind.choices)
    external_id = serializers.CharField(max_length=255, trim_whitespace=False, validators=[not_blank])
    author_id = serializers.CharField(max_length=255, required=False, allow_blank=True, trim_whitespace=False)
    text = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, trim_whitespace=False)
    media_urls = serializers.ListField(
        child=serializers.CharField(max_length=2048, validators=[web_url], help_text="An http(s) URL."),
        required=False,
        max_length=MAX_MEDIA_URLS,
    )
    language = serializers.CharField(
        max_length=16, required=False, allow_blank=True, trim_whitespace=False, validators=[language_tag]
    )
    url = serializers.CharField(
        max_length=2048, required=False, allow_blank=True, validators=[web_url], help_text="An http(s) URL."
    )
    metadata = MetadataField(required=False)


class ReporterSerializer(StrictInputSerializer):
    id = serializers.CharField(max_length=255, required=False, allow_blank=True, trim_whitespace=False)


class ScoreSerializer(StrictInputSerializer):
    label = serializers.CharField(max_length=100, trim_whitespace=False, validators=[score_label])
    score = serializers.FloatField(min_value=0.0, max_value=1.0)


class ReportInputSerializer(StrictInputSerializer):
    """One report."""

    # `context["policies"]` maps active policy codes to policies (see validate_reason).

    external_id = serializers.CharField(
        max_length=200,
        trim_whitespace=False,
        validators=[not_blank],
        help_text="Your id for this report; the idempotency key.",
    )
    reason = serializers.CharField(
        max_length=64,
        trim_whitespace=False,
        help_text="The code of an active policy, e.g. `spam`, `harassment`; any other code is refused with 400.",
    )
    subject = SubjectInputSerializer()
    reporter = ReporterSerializer(required=False, allow_null=True)
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, trim_whitespace=False)
    occurred_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Not before 2000-01-01 and at most a day ahead of now."
    )
    scores = ScoreSerializer(
        many=True, required=False, max_length=MAX_SCORES, help_text="Each label at most once."
    )  # not nullable

    def validate_reason(self, value: str) -> str:
        policies = self.context.get("policies")
        if policies is not None and value not in policies:
            valid = ", ".join(sorted(policies))
            raise serializers.ValidationError(f"Unknown reason {value!r}. Valid reasons: {valid}.")
        return value

    def validate_occurred_at(self, value):
        if value is not None and value > timezone.now() + timedelta(days=1):
            raise serializers.ValidationError("Is in the future.")
        return value

    def validate_scores(self, value: list[dict]) -> list[dict]:
        labels = [score["label"] for score in value]
        if len(labels) != len(set(labels)):
            raise serializers.ValidationError("Each label may appear once.")
        return value


class BatchInputSerializer(StrictInputSerializer):
    """Shape only; each item is validated on its own so one bad item does not fail the others."""

    reports = ReportInputSerializer(many=True, min_length=1, max_length=settings.API_MAX_BATCH_SIZE)


class AppealInputSerializer(StrictInputSerializer):
    """An appeal of a decision, filed on behalf of the affected user."""

    # Checked at runtime by `cases.api._parse_appeal`; this describes the same rules for the schema.

    external_id = serializers.CharField(
        max_length=MAX_APPEAL_ID,
        trim_whitespace=False,
        validators=[not_blank],
        help_text="The idempotency key.",
    )
    decision_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    statement = serializers.CharField(
        max_length=MAX_APPEAL_STATEMENT, trim_whitespace=False, validators=[not_blank]
    )
    appellant_id = serializers.CharField(
        max_length=255, required=False, allow_blank=True, trim_whitespace=False
    )


class ReportCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    case_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate"])


class BatchItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    id = serializers.IntegerField(required=False)
    case_id = serializers.IntegerField(required=False)
    error = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class BatchResultSerializer(serializers.Serializer):
    results = BatchItemResultSerializer(many=True)
    summary = serializers.DictField(child=serializers.IntegerField())


class DecisionOutSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="What an appeal names (`decision_id`).")
    action = serializers.CharField()
    policy = serializers.CharField()
    decided_at = serializers.DateTimeField()
    automated = serializers.BooleanField()
    subject_version = serializers.IntegerField(
        allow_null=True, help_text="The subject's content version the decision was taken on."
    )


class CaseOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    opened_at = serializers.DateTimeField()
    report_count = serializers.IntegerField(help_text="Reports this vendor sent on the case.")
    decision = DecisionOutSerializer(
        allow_null=True,
        help_text="Once decided; only for a vendor whose reports brought content to the case.",
    )


class ReportOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    reason = serializers.CharField()
    received_at = serializers.DateTimeField()
    subject = serializers.DictField()
    case = CaseOutSerializer()
