"""Subjects: what is reported, every content version of it, and the tags on it."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from moderation.models import Vendor


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
    # Protected (a public figure, a government or news account, a partner): automation never acts on it,
    # whatever a live rule or a campaign bulk decision says, and of people only leads decide it (as for a
    # protected tag); agents escalate it. Marked by leads, with the reason (`cases.services.protection`).
    is_protected = models.BooleanField(
        default=False,
        help_text="Never actioned automatically (rules, campaign bulk decisions), and decided only by leads "
        "(permission cases.act_on_protected); agents can escalate it.",
    )
    protected_reason = models.CharField(max_length=200, blank=True)
    tags = models.ManyToManyField(
        "cases.Tag", through="cases.SubjectTag", blank=True, related_name="subjects"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    # Retention (`cases.services.retention`): when the content above was purged and under which policy's
    # retention; what the case page shows in its place. Content stored later is not purged by this mark.
    content_purged_at = models.DateTimeField(null=True, blank=True)
    content_purged_under = models.ForeignKey(
        "moderation.Policy", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "external_id"], name="subject_identity"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.external_id}"


def protection_reasons(is_protected: bool, reason: str, protected_tags) -> list[str]:
    """Why a subject is protected, as people are told: the lead's reason when it is marked protected, then
    its protected tags in slug order; empty when it is neither."""
    reasons = sorted(protected_tags)
    if is_protected:
        reasons.insert(0, reason or "marked protected")
    return reasons


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
    # Set when retention purged this version's text, media, address and metadata (its hash stays for dedupe).
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["subject_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["subject", "version"], name="subject_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} v{self.version}"


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


class MediaFile(models.Model):
    """A copy of a reported media item, served from this app so agents' browsers never load the original host.

    Keyed by the URL's SHA-256: one copy per URL. Only raster types are kept (never SVG or HTML).
    """

    class State(models.TextChoices):
        STORED = "stored"
        BLOCKED = "blocked", "Blocked (type, size or address refused)"
        FAILED = "failed"
        # Retention removed the bytes; the hashes stay (bank matching, dedupe). A later report of the same
        # URL fetches it again, like a failed copy.
        PURGED = "purged", "Purged (retention)"

    url_hash = models.CharField(max_length=64, unique=True)
    url = models.CharField(max_length=2048)
    state = models.CharField(max_length=8, choices=State.choices, default=State.STORED)
    content_type = models.CharField(max_length=32, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    # For MD5 banks (older exchange lists carry only MD5); copies stored before it existed get it lazily.
    md5 = models.CharField(max_length=32, blank=True)
    content = models.BinaryField(blank=True, default=b"")
    error = models.CharField(max_length=300, blank=True)
    # Evidence of a restricted case (sticky): the same picture, under this URL or any other with the same
    # bytes, is withheld from people not cleared for restricted content, whichever case shows it.
    is_restricted = models.BooleanField(default=False)
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["sha256"], name="media_sha256_idx", condition=~models.Q(sha256="")),
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.state})"
