"""Platform configuration (policies, actions, vendors) and the append-only audit log."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from moderation.validators import LANGUAGE_RE, validate_outbound_settings

# Keys the review page keeps for itself (static/js/app.js), so no action may take them.
RESERVED_SHORTCUT_KEYS = {
    "n": "Next case",
    "s": "Skip",
    "c": "Confirm",
    "e": "Escalate",
    "r": "Reveal media",
    "/": "Write a note",
    "?": "Help",
}
# What an action's key may be: one digit or lower-case letter that is not reserved (no modifier, no symbol).
SHORTCUT_KEYS = "".join(
    key for key in "0123456789abcdefghijklmnopqrstuvwxyz" if key not in RESERVED_SHORTCUT_KEYS
)
NO_VIOLATION_KEY = "0"


# The TDB's restriction values, by the statement field they go in (decision_visibility is a list).
DSA_RESTRICTIONS = [
    ("DECISION_VISIBILITY_CONTENT_REMOVED", "Visibility: removal of content"),
    ("DECISION_VISIBILITY_CONTENT_DISABLED", "Visibility: disabling access"),
    ("DECISION_VISIBILITY_CONTENT_DEMOTED", "Visibility: demotion"),
    ("DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED", "Visibility: age restricted"),
    ("DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED", "Visibility: interaction restricted"),
    ("DECISION_VISIBILITY_CONTENT_LABELLED", "Visibility: labelled"),
    ("DECISION_MONETARY_SUSPENSION", "Monetary: suspension of payments"),
    ("DECISION_MONETARY_TERMINATION", "Monetary: termination of payments"),
    ("DECISION_PROVISION_PARTIAL_SUSPENSION", "Service: partial suspension"),
    ("DECISION_PROVISION_TOTAL_SUSPENSION", "Service: total suspension"),
    ("DECISION_PROVISION_PARTIAL_TERMINATION", "Service: partial termination"),
    ("DECISION_PROVISION_TOTAL_TERMINATION", "Service: total termination"),
    ("DECISION_ACCOUNT_SUSPENDED", "Account: suspended"),
    ("DECISION_ACCOUNT_TERMINATED", "Account: terminated"),
]


class Action(models.Model):
    """Something that can be done to a subject or its author; each maps to an enforcement the platform applies."""

    class Kind(models.TextChoices):
        REMOVE = "remove", _("Remove content")
        RESTRICT = "restrict", _("Restrict visibility")
        LABEL = "label", _("Label content")
        WARN = "warn", _("Warn author")
        SUSPEND_TEMPORARY = "suspend_temporary", _("Suspend account (temporary)")
        SUSPEND_PERMANENT = "suspend_permanent", _("Suspend account (permanent)")
        ESCALATE = "escalate", _("Escalate")
        NO_VIOLATION = "no_violation", _("No violation (dismiss)")

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    description = models.TextField(blank=True)
    # What the platform receives in the enforcement webhook (e.g. "content.remove").
    enforcement_type = models.CharField(max_length=64, blank=True)
    duration_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="For temporary suspensions."
    )
    is_active = models.BooleanField(default=True)
    # EU DSA statements of reasons: what kind of restriction this is, when the kind's usual reading is not
    # right (`cases.statement_rules.restriction_for`); empty means derived from `kind`.
    dsa_restriction = models.CharField(
        max_length=64,
        blank=True,
        choices=DSA_RESTRICTIONS,
        help_text="DSA statement of reasons: the restriction this action is (empty: derived from its kind).",
    )
    shortcut_key = models.CharField(
        max_length=1,
        blank=True,
        default="",
        help_text="Chooses this action on the review page, the same key under every policy. One digit or "
        f"lower-case letter, not {' '.join(sorted(RESERVED_SHORTCUT_KEYS))} (the page's own keys); "
        f"{NO_VIOLATION_KEY} is always “No violation”. Empty: no key.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            # One key, one action, whatever the policy: "2" can never mean two things.
            models.UniqueConstraint(
                fields=["shortcut_key"],
                condition=models.Q(is_active=True) & ~models.Q(shortcut_key=""),
                name="action_shortcut_key_unique_among_active",
                violation_error_message="Another active action already has this shortcut key.",
            ),
            models.CheckConstraint(
                condition=models.Q(shortcut_key="") | models.Q(shortcut_key__in=list(SHORTCUT_KEYS)),
                name="action_shortcut_key_is_safe",
            ),
            # 0 is only ever "No violation"; escalation has the page's own key (e).
            models.CheckConstraint(
                condition=(models.Q(kind="no_violation") | ~models.Q(shortcut_key=NO_VIOLATION_KEY))
                & (~models.Q(kind="escalate") | models.Q(shortcut_key="")),
                name="action_shortcut_key_fits_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def resolves_case(self) -> bool:
        return self.kind != self.Kind.ESCALATE

    def clean(self) -> None:
        error = self._shortcut_key_error()
        if error:
            raise ValidationError({"shortcut_key": error})

    def _shortcut_key_error(self) -> str | None:
        key = self.shortcut_key
        if key in RESERVED_SHORTCUT_KEYS:
            return f"{key} is the review page's key for {RESERVED_SHORTCUT_KEYS[key]}; choose another."
        if key and key not in SHORTCUT_KEYS:
            return "One digit or lower-case letter (no symbols, capitals or spaces)."
        if self.kind == self.Kind.ESCALATE:
            return "Escalation has its own key (e) on the review page; leave this empty." if key else None
        if self.kind == self.Kind.NO_VIOLATION:
            if self.is_active and key != NO_VIOLATION_KEY:
                return f"“No violation” always has the key {NO_VIOLATION_KEY}, under every policy."
        elif key == NO_VIOLATION_KEY:
            return f"{NO_VIOLATION_KEY} is reserved for “No violation”."
        if key and self.is_active:
            taken = Action.objects.filter(is_active=True, shortcut_key=key).exclude(pk=self.pk).first()
            if taken is not None:
                return f"{taken.name} already has the key {key}: a key means one action under every policy."
        return None


class Policy(models.Model):
    """A rule of the platform that reports are filed under and decisions are made against."""

    class DsaCategory(models.TextChoices):
        # EU DSA Transparency Database statement-of-reasons categories (subset).
        ILLEGAL_OR_HARMFUL_SPEECH = (
            "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
            "Illegal or harmful speech",
        )
        PROTECTION_OF_MINORS = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "Protection of minors"
        SCAMS_AND_FRAUD = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "Scams and fraud"
        VIOLENCE = "STATEMENT_CATEGORY_VIOLENCE", "Violence"
        SELF_HARM = "STATEMENT_CATEGORY_SELF_HARM", "Self-harm"
        IMPERSONATION = "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", "Privacy / impersonation"
        SCOPE_OF_PLATFORM_SERVICE = (
            "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
            "Scope of platform service",
        )
        OTHER = "STATEMENT_CATEGORY_OTHER", "Other"

    class DsaGround(models.TextChoices):
        ILLEGAL_CONTENT = "DECISION_GROUND_ILLEGAL_CONTENT", "Illegal content"
        INCOMPATIBLE_CONTENT = "DECISION_GROUND_INCOMPATIBLE_CONTENT", "Incompatible with our terms"

    code = models.SlugField(max_length=64, unique=True, help_text="What vendors send as a report's `reason`.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    severity = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (low) to 5 (critical); drives priority.",
    )
    sla_hours = models.PositiveIntegerField(default=24, help_text="Time to first decision.")
    allowed_actions = models.ManyToManyField(Action, blank=True, related_name="policies")
    requires_second_review = models.BooleanField(
        default=False, help_text="A second agent must confirm enforcing decisions."
    )
    is_restricted = models.BooleanField(
        default=False,
        help_text="Sensitive (e.g. child safety): cases reported under it, and everything derived from them, "
        "are seen only in restricted queues by people cleared for them.",
    )
    user_facing_text = models.TextField(blank=True, help_text="Shown to the affected user with a decision.")
    strike_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=90,
        help_text="An enforcing decision under this policy gives the author a strike lasting this many days; "
        "empty: strikes never expire; 0: no strike.",
    )
    dsa_category = models.CharField(max_length=80, choices=DsaCategory.choices, default=DsaCategory.OTHER)
    # A trained model flags above the lowest threshold whose precision reaches this on recent labels: the
    # policy owner's trade-off (how many wrong flags per right one), not the data scientist's.
    target_precision = models.FloatField(
        default=0.9,
        help_text="0 < p ≤ 1: precision a trained model's threshold must reach (0.9: at most one wrong flag in "
        "ten). train_model and evaluate_model use it unless given --target-precision.",
    )
    # The ground a DSA statement of reasons gives for a restriction under this policy: our terms (the usual
    # case) or the law. Illegal content needs the legal provision relied on.
    dsa_ground = models.CharField(
        max_length=40, choices=DsaGround.choices, default=DsaGround.INCOMPATIBLE_CONTENT
    )
    dsa_legal_ground = models.CharField(
        max_length=500,
        blank=True,
        help_text="Illegal content: the legal provision relied on (e.g. a statute).",
    )
    dsa_contractual_ground = models.CharField(
        max_length=500, blank=True, help_text="Terms of service clause relied on (empty: the policy's name)."
    )
    dsa_explanation = models.TextField(
        max_length=2000,
        blank=True,
        help_text="Why content is illegal / incompatible on that ground (empty: the user-facing text). "
        "No personal data: it is published in the EU Transparency Database.",
    )
    dsa_also_illegal = models.BooleanField(
        default=False, help_text="Incompatible content that is also considered illegal."
    )
    # Data minimisation: the worst content on a platform is kept no longer than its review needs
    # (`cases.services.retention`). Empty keeps it: a policy must opt in to losing evidence.
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days after a case under this policy is resolved before its subject's content (texts of "
        "every version, media copies, report comments and payloads, matched bank text) is purged; the case, "
        "decisions, hashes and audit trail stay. Empty: keep forever. Legal holds, open cases and pending "
        "appeals on the subject block purging.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-severity", "name"]
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(severity__gte=1, severity__lte=5), name="policy_severity_1_5"
            ),
            models.CheckConstraint(
                condition=models.Q(target_precision__gt=0.0, target_precision__lte=1.0),
                name="policy_target_precision_0_1",
                violation_error_message="Target precision must be above 0 and at most 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        # A statement of reasons on the illegal-content ground must name the law: refuse it here rather than
        # at the first restriction.
        if self.dsa_ground == self.DsaGround.ILLEGAL_CONTENT and not self.dsa_legal_ground.strip():
            raise ValidationError(
                {"dsa_legal_ground": "Illegal content needs the legal provision relied on."}
            )


class Vendor(models.Model):
    """An API client that sends reports: detection vendor, user-report pipeline, ML detector, trusted flagger."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    reliability = models.FloatField(
        default=0.5,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="0..1: how often this vendor's reports turn out to be violations; weighs priority.",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive vendors' tokens are refused.")
    # The platform itself (or a vendor an admin vouches for as such): what it says a subject contains is
    # authoritative. Its content replaces what another vendor supplied first, and nobody else's moves it.
    is_content_authority = models.BooleanField(
        default=False,
        help_text="The platform's own feed: its content of a subject is authoritative over other vendors'.",
    )
    # Optional request signing: every request must carry an HMAC of its timestamp and body (docs/api.md).
    require_signature = models.BooleanField(
        default=False,
        help_text="Refuse requests without a valid X-Signature (HMAC-SHA256 of timestamp + body).",
    )
    signing_secret = models.CharField(max_length=200, blank=True, help_text="At least 32 characters.")
    # Optional: where to tell this vendor the outcome of cases it reported (signed like enforcements).
    callback_url = models.URLField(max_length=2048, blank=True)
    callback_secret = models.CharField(max_length=200, blank=True, help_text="At least 32 characters.")
    # Measured: reports of this vendor upheld / rejected by final decisions (compare with `reliability`).
    upheld_count = models.PositiveIntegerField(default=0, editable=False)
    rejected_count = models.PositiveIntegerField(default=0, editable=False)
    contact = models.CharField(max_length=200, blank=True)
    # How a DSA statement of reasons describes a restriction this vendor's report led to: a notice (Art. 16),
    # a trusted flagger's notice (Art. 22), or our own initiative (a detector we run).
    dsa_source_type = models.CharField(
        max_length=40,
        choices=[
            ("SOURCE_ARTICLE_16", "Notice (Art. 16 DSA)"),
            ("SOURCE_TRUSTED_FLAGGER", "Trusted flagger (Art. 22 DSA)"),
            ("SOURCE_VOLUNTARY", "Own initiative (our detector)"),
        ],
        default="SOURCE_ARTICLE_16",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reliability__gte=0.0, reliability__lte=1.0), name="vendor_reliability_0_1"
            ),
        ]

    # DRF treats request.user as the authenticated principal; a vendor is one.
    is_authenticated = True
    is_anonymous = False

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = validate_outbound_settings(self, url_field="callback_url", required=False)
        if self.require_signature and len(self.signing_secret or "") < 32:
            errors["signing_secret"] = ["Signed requests need a secret of at least 32 characters."]
        if self.callback_url and len(self.callback_secret or "") < 32:
            errors["callback_secret"] = ["A callback needs a secret of at least 32 characters."]
        if errors:
            raise ValidationError(errors)


class VendorToken(models.Model):
    """An API token. Only its SHA-256 is stored; the plaintext is shown once when created."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(max_length=120, blank=True)
    prefix = models.CharField(max_length=16, editable=False, help_text="First characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set by rotation: the old token keeps working until then, so the vendor can switch without downtime.
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.vendor} {self.prefix}…"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class AuditEvent(models.Model):
    """Append-only: who did what to which object, when.

    Deliberately no foreign keys: the log must outlive deleted users, vendors and cases, and deleting a row
    elsewhere must never cascade into (or update) the log. On PostgreSQL triggers refuse UPDATE, DELETE and
    TRUNCATE, and the app's database role may only insert and read (`manage.py create_app_role`).
    """

    class ActorType(models.TextChoices):
        USER = "user", _("User")
        VENDOR = "vendor", _("Vendor")
        SYSTEM = "system", _("System")

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    verb = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    case_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            # The leads' audit page filters by actor.
            models.Index(fields=["actor_label", "-id"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label or self.actor_type} {self.verb} {self.target_type}:{self.target_id}"


class EnforcementEndpoint(models.Model):
    """Where decisions are delivered: the platform's webhook, signed with HMAC-SHA256 (see docs/webhooks.md).

    One endpoint is active at a time. The secret is kept as written (it is needed to sign) and never shown
    again after saving.
    """

    name = models.CharField(max_length=120)
    url = models.URLField(max_length=2048, help_text="HTTPS URL on the platform that applies enforcements.")
    secret = models.CharField(max_length=200, help_text="Shared HMAC secret (at least 32 characters).")
    is_active = models.BooleanField(default=True)
    timeout_seconds = models.FloatField(default=10.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_enforcement_endpoint",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = validate_outbound_settings(self, url_field="url", required=True)
        if len(self.secret or "") < 32:
            errors["secret"] = ["Use a secret of at least 32 characters (e.g. `openssl rand -hex 32`)."]
        if errors:
            raise ValidationError(errors)


class MessageTemplate(models.Model):
    """What the affected user is told for an action (optionally per policy and language), with placeholders.

    Placeholders: {subject} (kind and id), {policy}, {policy_text} (the policy's explanation), {action},
    {duration} (e.g. "24 hours"), {appeal_link}, {reason} (what the agent wrote). A placeholder without a
    value blocks the decision until it is filled (the decision form previews the message).
    """

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="message_templates")
    policy = models.ForeignKey(
        Policy,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="message_templates",
        help_text="Empty: for this action under any policy.",
    )
    language = models.CharField(max_length=16, blank=True, help_text="BCP 47, e.g. de; empty: the default.")
    body = models.TextField()
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["action__code", "policy__code", "language"]

    def __str__(self) -> str:
        return f"{self.action} / {self.policy or 'any policy'} / {self.language or 'default'}"

    def clean(self) -> None:
        errors = {}
        unknown = set(re.findall(r"\{([^{}]*)\}", self.body or "")) - set(MESSAGE_PLACEHOLDERS)
        if unknown:
            errors["body"] = [
                f"Unknown placeholder(s) {', '.join('{' + name + '}' for name in sorted(unknown))}; use "
                + ", ".join("{" + name + "}" for name in MESSAGE_PLACEHOLDERS)
            ]
        if self.language and not LANGUAGE_RE.match(self.language):
            errors["language"] = ["Not a BCP 47 language tag."]
        if errors:
            raise ValidationError(errors)


MESSAGE_PLACEHOLDERS = ("subject", "policy", "policy_text", "action", "duration", "appeal_link", "reason")


from moderation.comfort_models import OrgDefaults, UserSettings  # noqa: E402,F401  (registered with this app)
