"""Matching banks: admin-managed lists of terms, patterns, domains and media hashes that detection matches.

A bank's entries are never deleted: removal is soft (`removed_at`), so a signal's evidence keeps pointing at
the entry that fired, and `BankChange` rows keep the version history (one per revision).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

# The normaliser's trick names, repeated here because models may not import detection (layering); a test
# checks the two stay equal.
NORMALISATION_TRICKS = ("invisible", "nfkc", "confusables", "case", "leet", "separators", "repeats")

# Entry values are bounded so the partial unique index on (bank, match_key) fits a PostgreSQL btree row
# (at most ~2,700 bytes: 500 characters of 4-byte UTF-8 is 2,000).
MAX_VALUE_LENGTH = 500


class Bank(models.Model):
    class Kind(models.TextChoices):
        KEYWORD = "keyword", "Keywords and phrases"
        REGEX = "regex", "Regular expressions (RE2)"
        DOMAIN = "domain", "Domains (subdomains match)"
        SHA256 = "sha256", "Media SHA-256"
        MD5 = "md5", "Media MD5"
        PDQ = "pdq", "Perceptual image hash (PDQ)"

    TEXT_KINDS = (Kind.KEYWORD, Kind.REGEX)
    MEDIA_KINDS = (Kind.SHA256, Kind.MD5, Kind.PDQ)

    name = models.SlugField(max_length=80, unique=True, help_text="Signals are labelled bank:<name>.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    description = models.TextField(blank=True, max_length=2000)
    normalisations = models.JSONField(
        default=list,
        blank=True,
        help_text="Evasion tricks undone before matching (text kinds only): "
        + ", ".join(NORMALISATION_TRICKS)
        + ".",
    )
    pdq_max_distance = models.PositiveSmallIntegerField(
        default=31,
        validators=[MaxValueValidator(256)],
        help_text="PDQ banks: a hash within this Hamming distance (0..256) is a hit.",
    )
    is_active = models.BooleanField(default=True)
    # Bumped on every change of the bank or its entries: workers recompile a bank when it moves.
    revision = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["keyword", "regex", "domain", "sha256", "md5", "pdq"]),
                name="bank_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(pdq_max_distance__gte=0, pdq_max_distance__lte=256),
                name="bank_pdq_distance_0_256",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """The signal label routing rules name: `bank:<name>`."""
        return f"bank:{self.name}"

    @property
    def is_text_kind(self) -> bool:
        return self.kind in self.TEXT_KINDS

    @staticmethod
    def default_normalisations(kind: str) -> list[str]:
        """Keywords: every trick. Regexes: the tricks that keep a pattern's meaning (no leet, separators or
        repeats, which would rewrite digits and punctuation a pattern may name). Domains and hashes: none."""
        if kind == Bank.Kind.KEYWORD:
            return list(NORMALISATION_TRICKS)
        if kind == Bank.Kind.REGEX:
            return ["invisible", "nfkc", "confusables", "case"]
        return []

    def clean(self) -> None:
        errors = normalisation_errors(self.kind, self.normalisations)
        if errors:
            raise ValidationError({"normalisations": errors})


def normalisation_errors(kind: str, normalisations) -> list[str]:
    if not isinstance(normalisations, list) or not all(isinstance(name, str) for name in normalisations):
        return ["A list of trick names."]
    unknown = sorted(set(normalisations) - set(NORMALISATION_TRICKS))
    if unknown:
        return [f"Unknown trick(s) {', '.join(unknown)}; known: {', '.join(NORMALISATION_TRICKS)}."]
    if normalisations and kind not in Bank.TEXT_KINDS:
        return ["Only keyword and regex banks normalise text; leave it empty for this kind."]
    return []


class BankEntry(models.Model):
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="entries")
    value = models.CharField(max_length=MAX_VALUE_LENGTH, help_text="As given (imported or typed).")
    # The normalised / canonical form matching uses: the term through the bank's tricks, the IDNA host,
    # the lower-case hex digest.
    match_key = models.CharField(max_length=MAX_VALUE_LENGTH)
    label = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["bank_id", "id"]
        verbose_name_plural = "bank entries"
        constraints = [
            models.UniqueConstraint(
                fields=["bank", "match_key"], condition=Q(is_active=True), name="bank_entry_active_unique"
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, removed_at__isnull=True) | Q(is_active=False),
                name="bank_entry_active_not_removed",
            ),
        ]
        indexes = [models.Index(fields=["bank", "is_active"], name="bank_entry_active_idx")]

    def __str__(self) -> str:
        return f"{self.bank_id}:{self.value[:60]}"


class BankChange(models.Model):
    """One revision of a bank: who changed it, when, how much, from what (file name, admin form)."""

    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="changes")
    revision = models.PositiveIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=200, blank=True, help_text="File name, admin form, command.")
    summary = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["bank_id", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["bank", "revision"], name="bank_change_one_per_revision")
        ]

    def __str__(self) -> str:
        return f"{self.bank_id} r{self.revision}"
