"""Wellness and comfort settings: the organisation's defaults (one row, set by admins) and each person's own
choices, which override a default only where they chose something (an empty field follows the default).

Imported by `moderation.models`, so Django registers them there; `moderation.comfort` reads and writes them.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Blur(models.TextChoices):
    LIGHT = "light", _("Light")
    MEDIUM = "medium", _("Medium")
    STRONG = "strong", _("Strong")


class Theme(models.TextChoices):
    SYSTEM = "system", _("Follow the system")
    LIGHT = "light", _("Light")
    DARK = "dark", _("Dark")


# A day has 1,440 minutes; a larger budget is a typo.
BUDGET_LIMIT = MaxValueValidator(1440)


class OrgDefaults(models.Model):
    """What everyone gets unless they choose otherwise. One row (pk 1), edited in the admin."""

    blur = models.CharField(max_length=8, choices=Blur.choices, default=Blur.MEDIUM)
    greyscale = models.BooleanField(default=True, help_text=_("Media stays greyscale, also once revealed."))
    auto_reveal = models.BooleanField(
        default=False, help_text=_("Reveal media as soon as a case opens (each reveal is still audited).")
    )
    mute_video = models.BooleanField(default=True)
    enlarge_on_reveal = models.BooleanField(default=False)
    exposure_budget_minutes = models.PositiveIntegerField(
        default=60,
        validators=[BUDGET_LIMIT],
        help_text=_("Minutes with revealed media per day before the tool suggests a break; 0: no budget."),
    )
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.SYSTEM)

    class Meta:
        verbose_name = _("wellness defaults")
        verbose_name_plural = _("wellness defaults")
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="org_defaults_single_row")]

    def __str__(self) -> str:
        return str(_("Wellness defaults for everyone"))


class UserSettings(models.Model):
    """One person's choices; an empty field means "the organisation's default"."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comfort")
    blur = models.CharField(max_length=8, choices=Blur.choices, blank=True)
    greyscale = models.BooleanField(null=True, blank=True)
    auto_reveal = models.BooleanField(null=True, blank=True)
    mute_video = models.BooleanField(null=True, blank=True)
    enlarge_on_reveal = models.BooleanField(null=True, blank=True)
    exposure_budget_minutes = models.PositiveIntegerField(null=True, blank=True, validators=[BUDGET_LIMIT])
    theme = models.CharField(max_length=8, choices=Theme.choices, blank=True)
    time_zone = models.CharField(
        max_length=64, blank=True, help_text=_("IANA name; empty: the site's time zone.")
    )
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Language of the pages; empty: the browser's."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("personal settings")
        verbose_name_plural = _("personal settings")

    def __str__(self) -> str:
        return f"Settings of user {self.user_id}"
