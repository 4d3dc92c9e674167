"""The shape of event requests and responses, for the OpenAPI schema (validated at runtime by
`cases.event_validation.parse_event`, which enforces the same rules)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import serializers

from cases.event_validation import MAX_EVENT_ID
from cases.models import Event
from cases.serializers import StrictInputSerializer, SubjectInputSerializer, not_blank


class EventInputSerializer(StrictInputSerializer):
    """One platform event (message posted, profile changed, account created, media uploaded)."""

    id = serializers.CharField(
        max_length=MAX_EVENT_ID,
        trim_whitespace=False,
        validators=[not_blank],
        help_text="The platform's event id; the idempotency key per source.",
    )
    type = serializers.ChoiceField(
        choices=Event.Type.choices,
        help_text="message.posted (a message or post), profile.changed (a profile), account.created (an "
        "account), media.uploaded (a media item): the subject's kind must fit the type.",
    )
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    subject = SubjectInputSerializer()

    def validate_occurred_at(self, value):
        if value is not None and value > timezone.now() + timedelta(days=1):
            raise serializers.ValidationError("Is in the future.")
        return value


class EventResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The stored event.")
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["created", "duplicate"])
    outcome = serializers.ChoiceField(
        choices=Event.Outcome.values,
        help_text="What the rules did: none, case_opened, decided, shadow_decided.",
    )
    case_id = serializers.IntegerField(allow_null=True, help_text="The case the event opened or joined.")
    rule_id = serializers.IntegerField(allow_null=True, help_text="The rule that acted.")


class EventBatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    id = serializers.IntegerField(required=False)
    outcome = serializers.CharField(required=False)
    case_id = serializers.IntegerField(required=False, allow_null=True)
    rule_id = serializers.IntegerField(required=False, allow_null=True)
    error = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class EventBatchResultSerializer(serializers.Serializer):
    results = EventBatchItemSerializer(many=True)
    summary = serializers.DictField(child=serializers.IntegerField())
