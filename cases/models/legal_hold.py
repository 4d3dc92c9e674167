"""Legal holds: a case or subject whose content must outlive its policy's retention (litigation, a law
enforcement request). Placed and released by leads with a reason; never deleted, so the history stays."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from cases.models.case import Case
from cases.models.subject import Subject


class LegalHold(models.Model):
    """An active hold (`released_at` empty) on a case, or on a subject (all its cases), blocks purging."""

    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    reason = models.CharField(max_length=300)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField()
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        permissions = [("place_legal_hold", "Can place and release legal holds (leads)")]
        constraints = [
            # On exactly one thing: a hold on "nothing" would block nothing and read as if it protected.
            models.CheckConstraint(
                condition=(Q(case__isnull=False) & Q(subject__isnull=True))
                | (Q(case__isnull=True) & Q(subject__isnull=False)),
                name="legal_hold_one_target",
            ),
            # One active hold per target: placing twice is a no-op, releasing once lifts it.
            models.UniqueConstraint(
                fields=["case"],
                condition=Q(released_at__isnull=True, case__isnull=False),
                name="legal_hold_one_active_per_case",
            ),
            models.UniqueConstraint(
                fields=["subject"],
                condition=Q(released_at__isnull=True, subject__isnull=False),
                name="legal_hold_one_active_per_subject",
            ),
        ]

    def __str__(self) -> str:
        target = f"case {self.case_id}" if self.case_id else f"subject {self.subject_id}"
        return f"Legal hold on {target}" + (" (released)" if self.released_at else "")

    @property
    def is_active(self) -> bool:
        return self.released_at is None
