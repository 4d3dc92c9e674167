"""Event triggers in the admin: which routing rules also run on platform events, for which event types, and the
policy of the case an event opens. Event types are checkboxes (never raw JSON); a trigger whose rule neither
names a policy to open with nor decides automatically is refused on the form, not skipped later at routing.

A trigger is not part of a rule's version, so adding or widening one would make a rule that decides
automatically act on a new stream of inputs without the second admin its own changes need
(`queues.services.rule_changes`). So a trigger is only given to, or changed on, a rule that does not decide
automatically in live and has no change waiting; the rule is then taken live through its change path, which
holds a trigger-carrying rule for a second admin (its backtest replays cases, not events)."""

from django import forms
from django.contrib import admin

from cases.models import Event, EventTrigger
from moderation.admin_audit import AuditedModelAdmin
from queues.models import RuleChangeRequest


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
        if rule is not None and self.has_changed():
            self._refuse_unapproved_automation(rule)
        cleaned["event_types"] = sorted(cleaned.get("event_types") or [])
        return cleaned

    def _refuse_unapproved_automation(self, rule) -> None:
        if rule.decides_automatically:
            self.add_error(
                "rule",
                "This rule decides automatically: set its automatic decision to shadow or off, change the "
                "trigger, then turn it live again (a second admin approves that).",
            )
        elif RuleChangeRequest.objects.filter(rule=rule, state=RuleChangeRequest.State.PENDING).exists():
            self.add_error(
                "rule",
                "A change to this rule waits for a second admin: approve or reject it first, so the trigger "
                "is not approved unseen with it.",
            )


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
