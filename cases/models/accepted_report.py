"""Reports accepted first and grouped into cases a moment later (`Prefer: respond-async`)."""

from django.db import models
from django.db.models import Q

from moderation.models import Vendor


class AcceptedReport(models.Model):
    """A report stored durably in one write and answered `202`; the grouper makes it a `Report` in bulk.

    Its id is taken from the reports' own id sequence, and the report it becomes keeps it: the id a client
    got in the `202` is the id `GET /api/v1/reports/{id}` answers for, before and after grouping.
    """

    class Outcome(models.TextChoices):
        PENDING = "", "Not grouped yet"
        CREATED = "created"
        DUPLICATE = "duplicate"  # the key was used meanwhile (a plain POST of the same body)
        CONFLICT = "conflict"  # the key was used meanwhile for a different body: nothing stored

    id = models.BigIntegerField(primary_key=True)  # reserved from cases_report's sequence, never auto
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="+", db_index=False)
    external_id = models.CharField(max_length=200)
    payload = models.JSONField(help_text="The validated request item, canonical form (as Report.payload).")
    payload_hash = models.CharField(max_length=64)
    accepted_at = models.DateTimeField()
    # Compare-and-set claim by a grouper; a claim older than the grouper's lease is taken over (crash).
    claimed_at = models.DateTimeField(null=True, blank=True)
    grouped_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=9, choices=Outcome.choices, blank=True, default="")
    report_id = models.BigIntegerField(null=True, blank=True, help_text="The report it became (or matched).")
    case_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor", "external_id"], name="accepted_report_vendor_key"),
        ]
        indexes = [
            # The grouper's scan: only what is still waiting, oldest first.
            models.Index(
                fields=["id"], name="accepted_report_waiting_idx", condition=Q(grouped_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"Accepted report {self.pk} ({self.vendor_id}:{self.external_id})"
