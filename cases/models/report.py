"""Reports, the signals attached to cases, and reporters' track records."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models.case import Case
from cases.models.subject import Subject
from moderation.models import Policy, Vendor


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
    # The decision that judged it: an undo puts exactly these reports back to pending.
    judged_by = models.ForeignKey(
        "cases.Decision", null=True, blank=True, on_delete=models.SET_NULL, related_name="judged_reports"
    )

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "external_id"], name="report_vendor_external_id"),
        ]
        indexes = [
            # A vendor's reports in the last minute (`vendor.reports_1m` from the database: backtests, the case
            # page): without it the count walks every report the vendor ever sent.
            models.Index(fields=["vendor", "received_at"], name="report_vendor_received_idx"),
            # Roll-ups recompute the last hours of reports (every vendor at once).
            models.Index(fields=["received_at"], name="report_received_idx"),
            # Top reporters leave out a reporter's judgements on cases the lead may not see: a handful of
            # reporters' reports, found by who sent them.
            models.Index(fields=["vendor", "reporter_id"], name="report_reporter_idx"),
            # The case page's newest reports of a case: a viral case's 100,000 reports are not sorted per view.
            models.Index(fields=["case", "received_at", "id"], name="report_case_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} ({self.vendor_id}:{self.external_id})"


class Signal(models.Model):
    """A fact attached to a case by intake or a worker: an ML score, a vendor score, context data."""

    class Source(models.TextChoices):
        VENDOR_SCORE = "vendor_score", _("Vendor-provided score")
        SCORER = "scorer", _("ML scorer")
        CONTEXT = "context", _("Context provider")
        BANK = "bank", _("Matching bank")
        # A candidate model's score beside the live one: shown to admins, never a routing fact (no
        # ScoreCondition source names it).
        SHADOW_MODEL = "shadow_model", _("Shadow model (not routed on)")

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
        indexes = [
            # The Reporters & vendors dashboard: reporters with the most judged reports.
            models.Index(
                (models.F("upheld_count") + models.F("rejected_count")).desc(), name="reporter_judged_idx"
            ),
            models.Index(fields=["muted_at"], name="reporter_muted_idx", condition=Q(muted_at__isnull=False)),
        ]
        permissions = [("mute_reporter", "Can mute bad-faith reporters (leads)")]

    def __str__(self) -> str:
        return f"{self.vendor_id}:{self.reporter_id}"

    @property
    def judged(self) -> int:
        return self.upheld_count + self.rejected_count

    @property
    def accuracy(self) -> float | None:
        return self.upheld_count / self.judged if self.judged else None
