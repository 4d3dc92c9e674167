"""Subjects, reports, cases, signals and decisions: the evidence and the unit of review."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from moderation.models import Action, Policy, Vendor


class Subject(models.Model):
    """What is reported. `text`/`media_urls`/... hold the newest content; `SubjectVersion` keeps every one."""

    class Kind(models.TextChoices):
        MESSAGE = "message"
        POST = "post"
        MEDIA = "media"
        PROFILE = "profile"
        ACCOUNT = "account"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    external_id = models.CharField(max_length=255)
    author_id = models.CharField(max_length=255, blank=True, db_index=True)
    text = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=16, blank=True)
    url = models.CharField(max_length=2048, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    content_version = models.PositiveIntegerField(default=1)
    # Whose content the fields above show: the vendor that first supplied it. Only that vendor's later
    # reports move them on (an edit on its platform); another vendor's different content is kept as its own
    # SubjectVersion and shown as a conflict, never swapped in (`cases.services.intake`).
    content_vendor = models.ForeignKey(
        Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # Sticky: once reported under a restricted policy (child safety, say), every case on the subject, past
    # and future, is restricted to people cleared for it.
    is_restricted = models.BooleanField(default=False)
    tags = models.ManyToManyField(
        "cases.Tag", through="cases.SubjectTag", blank=True, related_name="subjects"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "external_id"], name="subject_identity"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.external_id}"


class SubjectVersion(models.Model):
    """The content of a subject as it was reported: evidence is never overwritten by newer text."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    author_id = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=16, blank=True)
    url = models.CharField(max_length=2048, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # Who supplied this content (empty for versions stored before suppliers were recorded).
    vendor = models.ForeignKey(
        Vendor, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    captured_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["subject_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "version"], name="subject_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} v{self.version}"


# Unassigned cases an agent can claim from a queue: new ones, ones escalated to it, any left "in review"
# by nobody (its holder's account was deleted: `assignee` is SET_NULL), so no case is ever stranded, and
# first decisions awaiting a second reviewer (never offered to the agent who made them).
CLAIMABLE_STATUSES = ("open", "in_review", "escalated", "pending_confirmation")


class Case(models.Model):
    """The unit of review: all open reports on one subject."""

    class Status(models.TextChoices):
        OPEN = "open"
        IN_REVIEW = "in_review"
        ESCALATED = "escalated"
        PENDING_CONFIRMATION = "pending_confirmation", "Awaiting confirmation"
        RESOLVED = "resolved"

    class Kind(models.TextChoices):
        REPORT = "report", "Reports"
        APPEAL = "appeal", "Appeal"

    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REPORT)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.OPEN)
    # The most severe policy among the case's reports.
    policy = models.ForeignKey(Policy, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    queue = models.ForeignKey(
        "queues.Queue", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    priority = models.FloatField(default=0.0)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Indexed below by `case_assignee_idx` (only assigned cases: a small index).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
        db_index=False,
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(
        default=1,
        help_text="Optimistic lock: bumped when the case is claimed, decided, escalated or moved.",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Strongest ML or vendor score, kept by routing so queue filters and sorts need no join.
    max_score = models.FloatField(null=True, blank=True)
    report_count = models.PositiveIntegerField(default=0)
    reporter_count = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(auto_now_add=True)
    last_reported_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    enriched_at = models.DateTimeField(null=True, blank=True)
    routed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Which routing rule placed the case.
    routed_by_rule = models.ForeignKey(
        "queues.RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Reported under a restricted policy, or on a restricted subject (sticky): seen only in restricted queues
    # by people cleared for them, never moved to an open queue (`queues.selectors.visible_cases`).
    is_restricted = models.BooleanField(default=False)
    # {"done": [source keys], "errors": {source key: message}, "attempts": n}; shown to agents and leads.
    enrichment_state = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # At most one case under review per subject: concurrent reports on a new subject meet here.
            # Appeal cases are outside it: a subject can have an open report case and open appeals (one per
            # appealed decision, which Appeal.decision enforces).
            models.UniqueConstraint(
                fields=["subject"],
                condition=~Q(status="resolved") & Q(kind="report"),
                name="one_open_case_per_subject",
            ),
            models.CheckConstraint(condition=Q(priority__gte=0), name="case_priority_non_negative"),
        ]
        indexes = [
            # Claim-next: highest priority, then oldest, among unassigned open or escalated cases of a queue.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "opened_at",
                name="case_claimable_idx",
                condition=Q(status__in=CLAIMABLE_STATUSES, assignee__isnull=True),
            ),
            # "Which cases does this agent hold (in this queue)": resume on claim-next, the dashboard.
            models.Index(
                fields=["assignee", "queue"], name="case_assignee_idx", condition=Q(assignee__isnull=False)
            ),
            # Leases that ran out: the claim path and the sweeper return them to the queue.
            models.Index(
                fields=["lease_expires_at"],
                name="case_lease_idx",
                condition=Q(assignee__isnull=False) & ~Q(status="resolved"),
            ),
            # The queue page's other orderings over unresolved cases. Its default (waiting cases by priority)
            # is the claim index above; a second index on the same columns would tie with it and the planner
            # may then pick the one that also holds claimed cases, slowing claim-next (bench/claim.py).
            models.Index(
                fields=["queue", "opened_at"], name="case_queue_age_idx", condition=~Q(status="resolved")
            ),
            models.Index(
                fields=["queue", "sla_due_at"], name="case_queue_sla_idx", condition=~Q(status="resolved")
            ),
            models.Index(
                fields=["queue", "last_reported_at"],
                name="case_queue_reported_idx",
                condition=~Q(status="resolved"),
            ),
            # The sweeper's look-up of cases that never got routed.
            models.Index(fields=["opened_at"], name="case_unrouted_idx", condition=Q(routed_at__isnull=True)),
            models.Index(fields=["status", "sla_due_at"], name="case_status_sla_idx"),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.RESOLVED

    def is_overdue(self, now) -> bool:
        return self.is_open and self.sla_due_at is not None and self.sla_due_at < now

    def lease_is_live(self, now) -> bool:
        return (
            self.assignee_id is not None and self.lease_expires_at is not None and self.lease_expires_at > now
        )


class Report(models.Model):
    """One complaint or signal about a subject. Never edited (but for its outcome, set once decided)."""

    class Outcome(models.TextChoices):
        PENDING = "pending"
        UPHELD = "upheld"
        REJECTED = "rejected"

    # No separate index: the unique (vendor, external_id) constraint's index leads with vendor.
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="reports", db_index=False)
    external_id = models.CharField(max_length=200)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="reports")
    subject_version = models.PositiveIntegerField(help_text="Which SubjectVersion the reporter saw.")
    # The report brought content (or opened the subject). A report naming only a subject's identity does not
    # make its vendor a party to the case: it never learns the outcome nor owns an appeal.
    carried_content = models.BooleanField(default=True)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reports")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="reports")
    reason = models.CharField(max_length=64)
    reporter_id = models.CharField(max_length=255, blank=True)
    comment = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(help_text="The validated request item, as received.")
    payload_hash = models.CharField(max_length=64, help_text="Idempotency: a replay must hash the same.")
    # Set by the case's final decision: upheld (the report was right) or rejected (no violation).
    outcome = models.CharField(max_length=8, choices=Outcome.choices, default=Outcome.PENDING)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "external_id"], name="report_vendor_external_id"),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} ({self.vendor_id}:{self.external_id})"


class Signal(models.Model):
    """A fact attached to a case by intake or a worker: an ML score, a vendor score, context data."""

    class Source(models.TextChoices):
        VENDOR_SCORE = "vendor_score", "Vendor-provided score"
        SCORER = "scorer", "ML scorer"
        CONTEXT = "context", "Context provider"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="signals")
    report = models.ForeignKey(
        Report, null=True, blank=True, on_delete=models.CASCADE, related_name="signals"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    source_name = models.CharField(max_length=120, help_text="Vendor slug, scorer or provider name.")
    model = models.CharField(max_length=120, blank=True)
    model_version = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=100)
    score = models.FloatField(null=True, blank=True, help_text="0..1 for ML scores.")
    value = models.JSONField(null=True, blank=True, help_text="Raw fact for context signals.")
    # Re-delivered tasks write the same key again; the unique constraint makes that a no-op.
    dedupe_key = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case_id", "source", "label"]
        constraints = [
            models.UniqueConstraint(fields=["case", "dedupe_key"], name="signal_dedupe"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0.0, score__lte=1.0), name="signal_score_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label}={self.score if self.score is not None else self.value}"


class Decision(models.Model):
    """A verdict on a case. Immutable: a reversal is a new decision."""

    class Mode(models.TextChoices):
        LIVE = "live", "Live"
        SHADOW = "shadow", "Shadow (recorded, not enforced)"

    class ReviewState(models.TextChoices):
        FINAL = "final"
        PENDING = "pending", "Awaiting confirmation"
        CONFIRMED = "confirmed"
        OVERTURNED = "overturned"

    # Decisions that stand (awaiting or overturned ones do not): what vendors, history and metrics read.
    IN_FORCE = ("final", "confirmed")

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="decisions")
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="decisions")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.LIVE)
    automated = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    rule = models.ForeignKey(
        "queues.RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="decisions"
    )
    reason = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    # What the affected user is told: the admin's message template filled in, else the reason or the
    # policy's explanation. Sent in the enforcement.
    user_message = models.TextField(blank=True)
    # The evidence the decision was taken on: the subject's content version and its author. Enforcement,
    # strikes, messages and appeals use these, never whatever the subject says now.
    subject_version = models.PositiveIntegerField(null=True, blank=True)
    author_id = models.CharField(max_length=255, blank=True)
    # Four eyes: under a policy that requires a second review, an enforcing decision waits (`pending`) until
    # a different agent confirms it (`confirmed`) or decides otherwise (`overturned`); only then is anything
    # enforced. Every other decision is `final` when made.
    review_state = models.CharField(max_length=12, choices=ReviewState.choices, default=ReviewState.FINAL)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # For a timed action (a temporary suspension, a restriction for N hours): when it lapses. A beat task
    # then sends the reversing enforcement, once.
    effect_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["case", "mode", "-created_at"], name="decision_case_idx"),
            models.Index(
                fields=["effect_expires_at"],
                name="decision_expiry_idx",
                condition=Q(effect_expires_at__isnull=False),
            ),
            models.Index(
                fields=["case", "decided_by"],
                name="decision_pending_idx",
                condition=Q(review_state="pending"),
            ),
        ]
        constraints = [
            # Re-routing a case never records a rule's shadow verdict twice.
            models.UniqueConstraint(
                fields=["case", "rule"], condition=Q(mode="shadow"), name="one_shadow_decision_per_rule"
            ),
            # An automated rule decides a case at most once, however often the case is re-routed.
            models.UniqueConstraint(
                fields=["case", "rule"],
                condition=Q(mode="live", automated=True),
                name="one_automated_decision_per_rule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} on case {self.case_id} ({self.mode})"


class Scorer(models.Model):
    """An ML scorer admins enable: the built-in text model or an HTTP moderation API."""

    class Kind(models.TextChoices):
        BUILTIN_TEXT = "builtin_text", "Built-in text model (offline)"
        HTTP = "http", "HTTP moderation API"

    class RequestFormat(models.TextChoices):
        SIMPLE = "simple", '{"text", "language", "kind", "subject_id"}'
        OPENAI = "openai", 'OpenAI-style {"input": text}'
        PERSPECTIVE = "perspective", 'Perspective-style {"comment": {"text"}, "languages"}'

    class ResponseFormat(models.TextChoices):
        LABEL_SCORES = "label_scores", '{"label": score, ...}'
        CATEGORY_LIST = "category_list", '[{"label"|"category"|"name": ..., "score"|"confidence": ...}]'
        OPENAI = "openai", "OpenAI moderation: results[0].category_scores"
        PERSPECTIVE = "perspective", "Perspective: attributeScores.X.summaryScore.value"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    is_enabled = models.BooleanField(default=True)
    # Restricted cases' content (child safety, say) goes only to sources a superuser has vetted for it.
    receives_restricted_content = models.BooleanField(
        default=False,
        help_text="Also send content of restricted cases (child safety...) here. Only superusers can set it.",
    )
    subject_kinds = models.JSONField(default=list, blank=True, help_text="Empty: every kind with text.")
    url = models.URLField(max_length=2048, blank=True)
    auth_header = models.CharField(max_length=100, blank=True, default="Authorization")
    auth_value = models.CharField(max_length=500, blank=True, help_text='e.g. "Bearer sk-…" (sent as is).')
    timeout_seconds = models.FloatField(default=3.0)
    request_format = models.CharField(
        max_length=16, choices=RequestFormat.choices, default=RequestFormat.SIMPLE
    )
    response_format = models.CharField(
        max_length=16, choices=ResponseFormat.choices, default=ResponseFormat.LABEL_SCORES
    )
    response_path = models.CharField(
        max_length=200,
        blank=True,
        help_text='Dotted path to the scores inside the response, e.g. "result.categories".',
    )
    label_prefix = models.CharField(
        max_length=40, blank=True, help_text='Prepended to labels, e.g. "vendorx."'
    )
    model_name = models.CharField(max_length=120, blank=True, help_text="Recorded on signals (HTTP scorers).")
    model_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from moderation.validators import signal_source_errors

        errors = signal_source_errors(self, url_field="url", required=self.kind == self.Kind.HTTP)
        if errors:
            raise ValidationError(errors)


# What a context provider's URL template may contain (filled in, URL-encoded, by `cases.detection.sources`).
URL_PLACEHOLDERS = ("{author_id}", "{subject_id}", "{kind}")


class ContextProvider(models.Model):
    """An HTTP endpoint returning facts about a subject or its author (account age, prior strikes, hash hits)."""

    name = models.CharField(max_length=120, unique=True)
    is_enabled = models.BooleanField(default=True)
    # Restricted cases' content (child safety, say) goes only to sources a superuser has vetted for it.
    receives_restricted_content = models.BooleanField(
        default=False,
        help_text="Also send content of restricted cases (child safety...) here. Only superusers can set it.",
    )
    subject_kinds = models.JSONField(default=list, blank=True, help_text="Empty: every kind.")
    url_template = models.CharField(
        max_length=2048,
        help_text="GET URL; {author_id}, {subject_id}, {kind} are filled in (URL-encoded), e.g. "
        "https://platform.example/internal/users/{author_id}/facts",
    )
    auth_header = models.CharField(max_length=100, blank=True, default="Authorization")
    auth_value = models.CharField(max_length=500, blank=True)
    timeout_seconds = models.FloatField(default=3.0)
    label_prefix = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        import re

        from moderation.validators import signal_source_errors

        errors = signal_source_errors(self, url_field="url_template", required=True)
        unknown = set(re.findall(r"\{[^}]*\}", self.url_template or "")) - set(URL_PLACEHOLDERS)
        authority = (self.url_template or "").split("://", 1)[-1].split("/", 1)[0]
        if "{" in authority:
            errors["url_template"] = ["Placeholders may only appear in the path or query, never in the host."]
        elif unknown:
            errors["url_template"] = [
                f"Unknown placeholder(s) {', '.join(sorted(unknown))}; use {', '.join(URL_PLACEHOLDERS)}."
            ]
        if errors:
            raise ValidationError(errors)


TAG_SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9:_.\-]{0,63}$", "Use lower-case letters, digits and - _ . : (up to 64 characters)."
)


class Tag(models.Model):
    """A label on subjects: admin-defined (curated, e.g. `high-profile`) or free, added by agents."""

    slug = models.CharField(
        max_length=64,
        unique=True,
        validators=[TAG_SLUG_VALIDATOR],
        help_text="Lower case: letters, digits and - _ . : (e.g. high-profile, lang:de, campaign:x).",
    )
    name = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    is_curated = models.BooleanField(default=False, help_text="Admin-defined: offered to agents first.")
    is_protected = models.BooleanField(
        default=False,
        help_text="Subjects with this tag (e.g. high-profile accounts) can only be actioned by leads "
        "(permission cases.act_on_protected); agents can escalate them. Only leads add or remove it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_curated", "slug"]
        permissions = [("act_on_protected", "Can decide cases on protected subjects (leads)")]

    def __str__(self) -> str:
        return self.slug

    @property
    def label(self) -> str:
        return self.name or self.slug


class SubjectTag(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="subject_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="subject_tags")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject", "tag"], name="subject_tag_unique")]
        indexes = [models.Index(fields=["tag", "subject"], name="subject_tag_by_tag_idx")]

    def __str__(self) -> str:
        return f"{self.subject_id} #{self.tag_id}"


class CaseNote(models.Model):
    """An internal note on a case, for the team only (never sent to the user or the reporter)."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        ESCALATION = "escalation", "Escalation"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NOTE)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"], name="case_note_idx")]

    def __str__(self) -> str:
        return f"{self.kind} on case {self.case_id}"


class CaseViewer(models.Model):
    """Presence: who has a case page open. Refreshed by the page's heartbeat; stale rows mean gone."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="viewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "user"], name="case_viewer_unique")]

    def __str__(self) -> str:
        return f"user {self.user_id} on case {self.case_id}"


class MediaFile(models.Model):
    """A copy of a reported media item, served from this app so agents' browsers never load the original host.

    Keyed by the URL's SHA-256: one copy per URL. Only raster types are kept (never SVG or HTML).
    """

    class State(models.TextChoices):
        STORED = "stored"
        BLOCKED = "blocked", "Blocked (type, size or address refused)"
        FAILED = "failed"

    url_hash = models.CharField(max_length=64, unique=True)
    url = models.CharField(max_length=2048)
    state = models.CharField(max_length=8, choices=State.choices, default=State.STORED)
    content_type = models.CharField(max_length=32, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    content = models.BinaryField(blank=True, default=b"")
    error = models.CharField(max_length=300, blank=True)
    # Evidence of a restricted case (sticky): the same picture, under this URL or any other with the same
    # bytes, is withheld from people not cleared for restricted content, whichever case shows it.
    is_restricted = models.BooleanField(default=False)
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["sha256"], name="media_sha256_idx", condition=~Q(sha256=""))]

    def __str__(self) -> str:
        return f"{self.url} ({self.state})"


class OutboxMessage(models.Model):
    """A signed webhook that must arrive exactly once in effect: an enforcement or a vendor callback.

    The body and idempotency key are fixed when the row is created, so every attempt sends the same bytes and
    the receiver can deduplicate on the key. `cases.services.outbox` creates, claims, delivers, backs off,
    sweeps and retries both kinds; this row is the only place that says what happens next:

    - `next_attempt_at`: when the delivery task that holds the row is due to try it (set at creation, after a
      transient failure to the backoff, on a lead's retry). NULL while pending means no task holds it (the
      broker refused it): the next sweep takes it.
    - `claimed_until`: set by compare-and-set by the one worker about to make the HTTP call, for longer than
      that call can take; no other worker (a sweeper's task, a duplicated message) claims the row until then.
      Its value is the claim: the outcome is recorded only if the row still carries it.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    idempotency_key = models.CharField(max_length=80, unique=True)
    payload = models.JSONField(help_text="The webhook body, fixed at creation.")
    attempts = models.PositiveIntegerField(default=0)
    # Attempts made before the last lead retry: a retry gets the kind's full number of attempts again. A
    # database default too, so processes still running the code before this column can insert rows.
    attempts_before_retry = models.PositiveIntegerField(default=0, db_default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]


class Enforcement(OutboxMessage):
    """Delivery of a decision to the platform by signed webhook. One per (decision, kind); retried until
    delivered or given up (`failed`, retryable by a lead)."""

    class Kind(models.TextChoices):
        APPLY = "apply", "Apply"
        REVERSE = "reverse", "Reverse (undo)"

    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="enforcements")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="enforcements")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.APPLY)

    class Meta(OutboxMessage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["decision", "kind"], name="one_enforcement_per_decision_kind"),
        ]
        permissions = [
            ("retry_enforcement", "Can retry failed deliveries: enforcements and vendor callbacks (leads)"),
            ("bulk_decide", "Can decide many cases at once (leads)"),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="enforcement_state_idx"),
            models.Index(fields=["case", "created_at"], name="enforcement_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} decision {self.decision_id} ({self.state})"


class Strike(models.Model):
    """A mark against an author for an enforcing decision, with the policy and an expiry (policy's
    `strike_days`). Removed, not deleted, when the decision is overturned."""

    author_id = models.CharField(max_length=255)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="strikes")
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="strike")
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="strikes")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["author_id", "expires_at"],
                name="strike_active_idx",
                condition=Q(removed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"strike on {self.author_id} ({self.policy_id})"

    def is_active(self, now) -> bool:
        return self.removed_at is None and (self.expires_at is None or self.expires_at > now)


class Appeal(models.Model):
    """The affected user contests a decision: reviewed as its own case (kind `appeal`) in the appeals queue,
    never by the agents who made or confirmed the decision. Overturning reverses the enforcement and removes
    the strike."""

    class State(models.TextChoices):
        OPEN = "open"
        UPHELD = "upheld"
        OVERTURNED = "overturned"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="appeals")
    external_id = models.CharField(max_length=200, help_text="Idempotency key, unique per vendor.")
    decision = models.OneToOneField(
        Decision, on_delete=models.PROTECT, related_name="appeal", help_text="One appeal per decision."
    )
    appeal_case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="appeal")
    appellant_id = models.CharField(max_length=255, blank=True)
    statement = models.TextField()
    payload_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.OPEN)
    outcome_reason = models.TextField(blank=True, help_text="Sent to the appellant.")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "external_id"], name="appeal_vendor_external_id"),
        ]

    def __str__(self) -> str:
        return f"Appeal {self.pk} of decision {self.decision_id} ({self.state})"


class Reporter(models.Model):
    """A vendor's reporting user, with their track record. Leads can mute a bad-faith reporter: their
    reports are still stored and shown, but no longer raise a case's priority."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="reporters")
    reporter_id = models.CharField(max_length=255)
    upheld_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    muted_at = models.DateTimeField(null=True, blank=True)
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mute_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["vendor", "reporter_id"], name="reporter_identity")]
        permissions = [("mute_reporter", "Can mute bad-faith reporters (leads)")]

    def __str__(self) -> str:
        return f"{self.vendor_id}:{self.reporter_id}"

    @property
    def judged(self) -> int:
        return self.upheld_count + self.rejected_count

    @property
    def accuracy(self) -> float | None:
        return self.upheld_count / self.judged if self.judged else None


class VendorCallback(OutboxMessage):
    """The outcome of a case, sent to a vendor that is a party to it (a report of theirs brought content) and
    has a callback URL. One per (decision, vendor)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="vendor_callbacks")
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="vendor_callbacks")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="vendor_callbacks")

    class Meta(OutboxMessage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["decision", "vendor"], name="one_vendor_callback_per_decision"),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"], name="vendor_callback_state_idx"),
            models.Index(fields=["case", "created_at"], name="vendor_callback_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} ({self.state})"
