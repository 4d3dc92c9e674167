"""Routing rules and their signal conditions."""

from django.core.exceptions import ValidationError
from django.db import models

from cases.counters import COUNTER_NAMES
from cases.models import Bank, ContextProvider, Scorer
from cases.models.signal_source import BUILTIN_CONTEXT_SOURCES
from moderation.models import Action, Vendor
from moderation.validators import validate_language_list, validate_subject_kind_list
from queues.models.queue import Queue


class RoutingRule(models.Model):
    """Ordered, admin-defined: conditions → target queue, priority boost, SLA, or an automatic decision.

    Rules are tried by `position`; the first live match wins. Two settings say how much a rule may do:
    - `state` (draft → shadow → live, paused): whether the rule is evaluated at all and whether its match is
      applied. Draft and paused rules are not evaluated; a shadow rule is evaluated on every routing and its
      match is logged (`RuleMatch`: what it would have routed and decided) but nothing is applied.
    - `automation_mode` (off / shadow / live): what a *live* rule's match does about a decision. A live rule
      whose decision runs in shadow routes for real and records what it would have decided (then evaluation
      continues), so its decision never changes what happens to the case.
    Every change is versioned (`RoutingRuleVersion`) and audited through `queues.services.rule_changes`.
    """

    class State(models.TextChoices):
        DRAFT = "draft", "Draft: not evaluated"
        SHADOW = "shadow", "Shadow: evaluated and logged, never applied"
        LIVE = "live", "Live: applied"
        PAUSED = "paused", "Paused: not evaluated"

    class AutomationMode(models.TextChoices):
        OFF = "off", "No automatic decision"
        SHADOW = "shadow", "Shadow: record what it would decide"
        LIVE = "live", "Live: decide automatically"

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=100, db_index=True, help_text="Lower runs first.")
    state = models.CharField(
        max_length=8,
        choices=State.choices,
        default=State.DRAFT,
        help_text="Draft and paused rules are not evaluated. A shadow rule is evaluated on every case and its "
        "matches are logged (what it would route and decide) without doing anything. A live rule acts: it "
        "routes, and decides if its automatic decision (below) is live.",
    )
    description = models.TextField(blank=True)
    # The number of the rule's latest `RoutingRuleVersion` (0: none yet); matches are logged against it.
    version = models.PositiveIntegerField(default=0, editable=False)
    # Blast-radius guards.
    max_automated_per_day = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most automatic decisions this rule may make in a UTC day; further matches go to people. "
        "Empty: the platform default (RULE_DEFAULT_DAILY_CAP).",
    )
    auto_paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    auto_pause_note = models.CharField(max_length=300, blank=True, editable=False)

    # Conditions: an empty condition matches anything; all non-empty ones must hold.
    policies = models.ManyToManyField("moderation.Policy", blank=True, related_name="routing_rules")
    subject_kinds = models.JSONField(default=list, blank=True, help_text='e.g. ["message", "media"]')
    vendors = models.ManyToManyField("moderation.Vendor", blank=True, related_name="routing_rules")
    languages = models.JSONField(default=list, blank=True, help_text='e.g. ["en", "de"]')

    # Outcome.
    target_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="routing_rules"
    )
    priority_boost = models.FloatField(default=0.0)
    sla_hours_override = models.PositiveIntegerField(null=True, blank=True)
    automation_mode = models.CharField(
        max_length=8,
        choices=AutomationMode.choices,
        default=AutomationMode.OFF,
        help_text="What a live rule's match does about a decision: none, record what it would decide "
        "(shadow), or decide automatically (live). Independent of the rule's state: a shadow-state rule "
        "never decides, whatever this says.",
    )
    auto_policy = models.ForeignKey(
        "moderation.Policy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    auto_action = models.ForeignKey(
        "moderation.Action", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(automation_mode="off")
                | models.Q(auto_policy__isnull=False, auto_action__isnull=False),
                name="automated_rule_has_policy_and_action",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"

    @property
    def is_evaluated(self) -> bool:
        return self.state in (self.State.LIVE, self.State.SHADOW)

    @property
    def decides_automatically(self) -> bool:
        """Live, with a live automatic decision: the rule's matches become decisions."""
        return self.state == self.State.LIVE and self.automation_mode == self.AutomationMode.LIVE

    @property
    def verdict(self) -> tuple[int, bool] | None:
        """What the rule's automatic decision (live or shadow) says of a case it matches: (policy id,
        violating). None for a routing-only rule or an escalation: no yes/no a model could disagree with.
        Uses the selected `auto_action`."""
        if self.automation_mode == self.AutomationMode.OFF or not (
            self.auto_action_id and self.auto_policy_id
        ):
            return None
        if self.auto_action.kind == Action.Kind.ESCALATE:
            return None
        return self.auto_policy_id, self.auto_action.kind != Action.Kind.NO_VIOLATION

    @property
    def automation_is_attributable(self) -> bool:
        """An automated rule's conditions may trigger its decision (`automation_condition_errors`).

        Checked on save (admin) and again by routing, which never lets a rule saved some other way decide on
        unattributable signals. Uses the prefetched conditions.
        """
        return not automation_condition_errors(self.score_conditions.all())

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        for name, check in (
            ("subject_kinds", validate_subject_kind_list),
            ("languages", validate_language_list),
        ):
            try:
                check(getattr(self, name))
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)
        if not -1000 <= self.priority_boost <= 1000:
            errors.setdefault("priority_boost", []).append("Keep the boost between -1000 and 1000.")
        automated = self.automation_mode != self.AutomationMode.OFF
        if automated:
            if not self.auto_policy_id:
                errors.setdefault("auto_policy", []).append("An automatic decision needs a policy.")
            if not self.auto_action_id:
                errors.setdefault("auto_action", []).append("An automatic decision needs an action.")
            if (
                self.auto_policy_id
                and self.auto_action_id
                and not self.auto_policy.allowed_actions.filter(pk=self.auto_action_id).exists()
            ):
                errors.setdefault("auto_action", []).append(
                    f"{self.auto_action} is not allowed under {self.auto_policy}; allow it on the policy first."
                )
        elif self.auto_policy_id or self.auto_action_id:
            errors.setdefault("automation_mode", []).append(
                "Choose shadow or live to use the automatic policy/action, or clear them."
            )
        if not automated and not self.target_queue_id:
            errors.setdefault("target_queue", []).append("Choose a target queue or an automatic decision.")
        if errors:
            raise ValidationError(errors)


# Facts the system derives itself (not a signal any scorer, vendor or provider sends): the author's strikes and
# the velocity counters (`cases.counters`).
SYSTEM_FACTS = ("author.active_strikes", *COUNTER_NAMES)


class ScoreCondition(models.Model):
    """`source: label op threshold` on the case's signals, e.g. scorer "Built-in text model": profanity ≥ 0.9.

    A condition trusts one kind of source (and optionally one named source): a vendor that sends a score
    labelled `profanity` with its report never satisfies a condition on the built-in model's `profanity`.
    """

    class Source(models.TextChoices):
        # The values of `cases.Signal.Source`, plus facts the system computes itself.
        SCORER = "scorer", "ML scorer (ours)"
        VENDOR = "vendor_score", "Vendor-sent score (a claim)"
        CONTEXT = "context", "Context provider"
        BANK = "bank", "Matching bank (ours)"
        SYSTEM = "system", "System fact"

    class Operator(models.TextChoices):
        GTE = "gte", "≥"
        LTE = "lte", "≤"
        EQ = "eq", "="

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="score_conditions")
    source = models.CharField(
        max_length=16, choices=Source.choices, help_text="Whose signal this condition trusts."
    )
    source_name = models.CharField(
        max_length=120,
        blank=True,
        help_text="Only this scorer (its name), vendor (its slug), context provider or matching bank (its name); "
        "empty: any source of that kind. Automatic decisions on vendor scores must name the vendor.",
    )
    label = models.CharField(max_length=100)
    operator = models.CharField(max_length=3, choices=Operator.choices, default=Operator.GTE)
    threshold = models.FloatField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(source__in=["scorer", "vendor_score", "context", "bank", "system"]),
                name="score_condition_names_its_source",
            ),
        ]

    def __str__(self) -> str:
        source = f"{self.source}:{self.source_name}" if self.source_name else self.source
        return f"[{source}] {self.label} {self.get_operator_display()} {self.threshold:g}"

    def clean(self) -> None:
        import math
        import re

        errors: dict[str, str] = {}
        if not re.fullmatch(r"[A-Za-z0-9_.:\-]{1,100}", self.label or ""):
            errors["label"] = (
                "Letters, digits and _ . : - only (a signal label such as toxicity or account_age_days)."
            )
        if self.threshold is not None and not math.isfinite(self.threshold):
            errors["threshold"] = "Must be a finite number."
        if self.source == self.Source.SYSTEM:
            if self.label not in SYSTEM_FACTS:
                errors["label"] = f"The system knows only {', '.join(SYSTEM_FACTS)}."
            if self.source_name:
                errors["source_name"] = "System facts have no source name; leave it empty."
        elif self.label in SYSTEM_FACTS and self.source:
            errors["source"] = f"{self.label} is a system fact: choose the source “System fact”."
        elif self.source_name and self.source and not self._named_source_exists():
            kind = {
                "scorer": "scorer",
                "vendor_score": "vendor slug",
                "context": "context provider",
                "bank": "matching bank",
            }
            errors["source_name"] = f"No {kind[self.source]} is called {self.source_name!r}."
        if "source_name" not in errors and not self.may_decide_automatically and self._rule_is_automated():
            errors["source_name"] = (
                "This rule decides automatically: a vendor score may only count when the condition names the "
                "vendor (its slug), so that a new or unknown vendor can never trigger a decision."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def may_decide_automatically(self) -> bool:
        """Attributable enough to trigger an automatic decision.

        Scorers, context providers and system facts are ours (configured by admins), so any of them will do.
        A vendor score is a claim by whoever holds an API token: only a vendor the admin names (and so vouches
        for) may count, never "any vendor".
        """
        return self.source != self.Source.VENDOR or bool(self.source_name)

    def _rule_is_automated(self) -> bool:
        rule = self.rule if self.rule_id or "rule" in self._state.fields_cache else None
        return rule is not None and rule.automation_mode != RoutingRule.AutomationMode.OFF

    def _named_source_exists(self) -> bool:
        if self.source == self.Source.VENDOR:
            return Vendor.objects.filter(slug=self.source_name).exists()
        if self.source == self.Source.SCORER:
            return Scorer.objects.filter(name=self.source_name).exists()
        if self.source == self.Source.BANK:
            return Bank.objects.filter(name=self.source_name).exists()
        if self.source_name in BUILTIN_CONTEXT_SOURCES:
            return True  # our own detector (campaign grouping), not a provider row
        return ContextProvider.objects.filter(name=self.source_name).exists()


def automation_condition_errors(conditions) -> list[str]:
    """Why these conditions may not trigger an automatic (live or shadow) decision; empty when they may.

    Policies, subject kinds, vendors and languages all come from the report, which is the vendor's word: an
    automated rule needs at least one signal condition, and every condition must be attributable
    (`ScoreCondition.may_decide_automatically`).
    """
    conditions = list(conditions)
    if not conditions:
        return [
            "An automatic decision needs at least one signal condition (from a scorer, a named vendor, a "
            "context provider or a system fact): the report alone is the vendor's claim."
        ]
    return [
        f"{condition}: a vendor score counts towards an automatic decision only when the condition names "
        "the vendor."
        for condition in conditions
        if not condition.may_decide_automatically
    ]
