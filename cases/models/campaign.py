"""Campaigns: open cases grouped because they share near-duplicate text, a link's host or a picture.

The grouping itself is detection (`cases.detection.campaigns`); these rows are what it leaves behind, and
what the case page, the campaign page and a lead's campaign decision read. The near-duplicate index lives
here too (`TextSignature`, `TextFingerprint`), in the database, so every worker shares one index and a
restart loses nothing, on SQLite as on PostgreSQL.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.models.case import Case
from cases.models.subject import Subject


class Campaign(models.Model):
    """A group of cases that look coordinated. Its members stay listed when they resolve (history)."""

    class Kind(models.TextChoices):
        NEAR_DUPLICATE_TEXT = "near_duplicate_text", _("Near-duplicate text")
        SHARED_DOMAIN = "shared_domain", _("Shared link host")
        SHARED_MEDIA = "shared_media", _("Shared media")

    class Status(models.TextChoices):
        OPEN = "open"
        # Merged into an older campaign (`merged_into`) when a new case bridged the two.
        CLOSED = "closed"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    # The host or the media SHA-256 the members share; empty for near-duplicate text (no single key).
    shared_key = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_campaigns"
    )
    first_seen_at = models.DateTimeField()
    last_grown_at = models.DateTimeField()
    member_count = models.PositiveIntegerField(default=0)
    # Sticky: set once any member is restricted (child safety...). Its key and restricted members are then
    # withheld from people not cleared for restricted content.
    is_restricted = models.BooleanField(default=False)

    class Meta:
        ordering = ["-last_grown_at", "-id"]
        constraints = [
            # One open campaign per host or picture: concurrent workers meet here instead of making two.
            models.UniqueConstraint(
                fields=["kind", "shared_key"],
                condition=Q(status="open") & ~Q(shared_key=""),
                name="campaign_open_shared_key",
            ),
        ]

    def __str__(self) -> str:
        return f"Campaign {self.pk} ({self.kind}, {self.member_count})"


class CampaignMember(models.Model):
    """A case in a campaign, and how it matched (estimated Jaccard similarity, or the key it shares)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    # The campaign's kind, copied, so the database holds "one campaign per kind per case".
    kind = models.CharField(max_length=24, choices=Campaign.Kind.choices)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="campaign_memberships")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField()
    jaccard = models.FloatField(
        null=True, blank=True, help_text="Estimated similarity to the nearest member."
    )
    matched_key = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "kind"], name="campaign_member_one_per_kind"),
        ]
        indexes = [
            models.Index(fields=["campaign", "joined_at"], name="campaign_member_joined_idx"),
            # "Which campaigns are these matched subjects already in": the grouping's look-up.
            models.Index(fields=["subject", "kind"], name="campaign_member_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id} in campaign {self.campaign_id}"


class TextSignature(models.Model):
    """The MinHash signature of one content version of a subject's normalised text (one uint32 per permutation)."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    content_version = models.PositiveIntegerField()
    signature = models.BinaryField()
    shingles = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "content_version"], name="text_signature_version"),
        ]

    def __str__(self) -> str:
        return f"signature of {self.subject_id} v{self.content_version}"


class TextFingerprint(models.Model):
    """One LSH band of a signature: texts sharing any band are candidates (then verified on the signature)."""

    signature = models.ForeignKey(TextSignature, on_delete=models.CASCADE, related_name="bands")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+", db_index=False)
    band = models.PositiveSmallIntegerField()
    # 64-bit hash of the band's rows mixed with its index (signed, to fit a BIGINT): equal hashes are the same
    # band, so one `band_hash IN (...)` look-up on this index finds every candidate.
    band_hash = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["band_hash", "band"], name="text_fingerprint_band_idx")]

    def __str__(self) -> str:
        return f"band {self.band} of {self.subject_id}"


class ContentIndicator(models.Model):
    """A link host or a stored picture's SHA-256 found in a subject: what shared-key campaigns group on."""

    class Kind(models.TextChoices):
        HOST = "host"
        MEDIA_SHA256 = "media_sha256"

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "kind", "value"], name="content_indicator_unique"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="content_indicator_value_idx")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
