"""Event triggers in the admin: which routing rules also run on platform events, for which event types, and the
policy of the case an event opens. Event types are checkboxes (never raw JSON); a trigger whose rule neither
names a policy to open with nor decides automatically is refused on the form, not skipped later at routing."""

from django import forms
from django.contrib import admin

from cases.models import Event, EventTrigger
from moderation.admin_audit import AuditedModelAdmin


class EventTriggerForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=Event.Type.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None ticked: every type.",
    )

    class Meta:
        model = EventTrigger
        fields = ["rule", "event_types", "open_policy"]

    def clean(self):
        cleaned = super().clean()
        rule = cleaned.get("rule")
        if rule is not None and cleaned.get("open_policy") is None and rule.auto_policy_id is None:
            self.add_error(
                "open_policy",
                "Choose the policy of the case an event opens: this rule has no automatic-decision policy to take it from.",
            )
        cleaned["event_types"] = sorted(cleaned.get("event_types") or [])
        return cleaned


@admin.register(EventTrigger)
class EventTriggerAdmin(AuditedModelAdmin):
    form = EventTriggerForm
    list_display = ["rule", "types", "open_policy", "created_at"]
    list_select_related = ["rule", "open_policy"]
    search_fields = ["rule__name"]
    autocomplete_fields = []

    @admin.display(description="Event types")
    def types(self, trigger: EventTrigger) -> str:
        return ", ".join(trigger.event_types) or "every type"
