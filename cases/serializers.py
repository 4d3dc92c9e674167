"""The shape of intake requests and responses, for the OpenAPI schema.

Requests are validated by `cases.validation.parse_report` (hand-written for speed); these serializers
describe the same rules and `tests/cases/test_validation_parity.py` keeps the two in agreement.
"""

import json
from datetime import timedelta

from django.core.validators import URLValidator
from django.utils import timezone
from rest_framework import serializers

from cases.models import Subject
from cases.validation import (
    LABEL_RE,
    LANGUAGE_RE,
    MAX_MEDIA_URLS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_SCORES,
    MAX_TEXT,
    nesting_exceeds,
)

# Reported content may only point at web URLs: never javascript:, data:, file: and the like.
web_url = URLValidator(schemes=["http", "https"], message="Enter an http(s) URL.")


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


class SubjectInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Subject.Kind.choices)
    external_id = serializers.CharField(max_length=255, trim_whitespace=False)
    author_id = serializers.CharField(max_length=255, required=False, allow_blank=True, trim_whitespace=False)
    text = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, trim_whitespace=False)
    media_urls = serializers.ListField(
        child=serializers.CharField(max_length=2048, validators=[web_url]),
        required=False,
        max_length=MAX_MEDIA_URLS,
    )
    language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    url = serializers.CharField(max_length=2048, required=False, allow_blank=True, validators=[web_url])
    metadata = MetadataField(required=False)

    def validate_language(self, value: str) -> str:
        if value and not LANGUAGE_RE.match(value):
            raise serializers.ValidationError("Use a BCP 47 language tag such as 'en' or 'pt-BR'.")
        return value


class ReporterSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=255, required=False, allow_blank=True, trim_whitespace=False)


class ScoreSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=100)
    score = serializers.FloatField(min_value=0.0, max_value=1.0)

    def validate_label(self, value: str) -> str:
        if not LABEL_RE.match(value):
            raise serializers.ValidationError("Letters, digits and _ . : - only.")
        return value


class ReportInputSerializer(serializers.Serializer):
    """One report. `context["policies"]` maps active policy codes to policies."""

    external_id = serializers.CharField(
        max_length=200, trim_whitespace=False, help_text="Your id for this report; the idempotency key."
    )
    reason = serializers.CharField(max_length=64, help_text="A policy code, e.g. `spam`, `harassment`.")
    subject = SubjectInputSerializer()
    reporter = ReporterSerializer(required=False, allow_null=True)
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, trim_whitespace=False)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    scores = ScoreSerializer(many=True, required=False, max_length=MAX_SCORES)  # not nullable

    def validate_external_id(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("May not be blank.")
        return value

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


class BatchInputSerializer(serializers.Serializer):
    """Shape only; each item is validated on its own so one bad item does not fail the others."""

    reports = ReportInputSerializer(many=True, max_length=500)


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
    action = serializers.CharField()
    policy = serializers.CharField()
    decided_at = serializers.DateTimeField()
    automated = serializers.BooleanField()


class CaseOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    opened_at = serializers.DateTimeField()
    report_count = serializers.IntegerField(help_text="Reports this vendor sent on the case.")
    decision = DecisionOutSerializer(allow_null=True)


class ReportOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    reason = serializers.CharField()
    received_at = serializers.DateTimeField()
    subject = serializers.DictField()
    case = CaseOutSerializer()
