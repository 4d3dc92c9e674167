"""The queues admin's forms: checks that read several fields (or rows) together, and fields that let admins
pick and type values the database keeps as JSON."""

from django import forms

from moderation.validators import SUBJECT_KINDS
from queues.models import QueueClearance, RoutingRule, automation_condition_errors
from queues.services.rule_changes import transition_error


class QueueClearanceForm(forms.ModelForm):
    granter = None  # set per request by the admin

    class Meta:
        model = QueueClearance
        fields = ["queue", "user", "expires_at", "reason"]

    def clean(self):
        cleaned = super().clean()
        granter = self.granter
        if granter is not None and not granter.is_superuser and cleaned.get("user") == granter:
            raise forms.ValidationError({"user": "Nobody clears themselves: another admin has to grant it."})
        return cleaned


class ScoreConditionFormSet(forms.BaseInlineFormSet):
    """The rule's conditions as posted, checked together: an automated rule needs attributable ones."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return  # each condition's own errors first (a vendor condition without a name among them)
        rule = self.instance
        if rule.automation_mode == RoutingRule.AutomationMode.OFF:
            return
        kept = [
            form.instance
            for form in self.forms
            if form.has_changed() or form.instance.pk
            if not (self.can_delete and self._should_delete_form(form))
        ]
        problems = automation_condition_errors(kept)
        if problems:
            raise forms.ValidationError(problems)


class LanguageListField(forms.CharField):
    """Languages typed as `en, de, pt-BR` and stored as the model's list (its own validator checks each tag)."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        return [tag for tag in (part.strip() for part in text.replace(";", ",").split(",")) if tag]


class RoutingRuleForm(forms.ModelForm):
    # Both lists are JSON in the database; admins pick and type them as ordinary fields, never as JSON.
    subject_kinds = forms.MultipleChoiceField(
        choices=[(kind, kind) for kind in SUBJECT_KINDS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Subject kinds",
        help_text="Tick the kinds this rule applies to; none ticked: any kind.",
    )
    languages = LanguageListField(
        required=False,
        label="Languages",
        max_length=500,
        help_text="Language tags (BCP 47) separated by commas, e.g. en, de, pt-BR; empty: any language.",
    )

    class Meta:
        model = RoutingRule
        # The admin's fieldsets choose what is shown; these are the fields the check reads.
        fields = ["policies", "target_queue", "state"]
        # A handful of policies and vendors: plain labelled checkboxes (the admin's filter widget draws
        # ARIA that axe-core refuses, and needs JavaScript to be usable at all).
        widgets = {"policies": forms.CheckboxSelectMultiple, "vendors": forms.CheckboxSelectMultiple}

    def clean(self):
        cleaned = super().clean()
        # The instance still holds the saved state here (the form's values are applied after clean()).
        old_state = self.instance.state if self.instance.pk else RoutingRule.State.DRAFT
        new_state = cleaned.get("state")
        if new_state and (problem := transition_error(old_state, new_state)):
            self.add_error("state", problem)
        # The policies are a many-to-many field, saved after the rule: checked here, before anything is.
        restricted = [policy.name for policy in cleaned.get("policies") or [] if policy.is_restricted]
        target = cleaned.get("target_queue")
        if restricted and target is not None and not target.is_restricted:
            self.add_error(
                "target_queue",
                f"{', '.join(restricted)} {'is' if len(restricted) == 1 else 'are'} restricted: a rule for "
                "it must send cases to a restricted queue.",
            )
        return cleaned


class RulePositionForm(forms.ModelForm):
    """The list's editable position: each box is named after its rule (the column header labels nothing)."""

    class Meta:
        model = RoutingRule
        fields = ["position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["position"].widget.attrs["aria-label"] = f"Position of {self.instance.name}"
