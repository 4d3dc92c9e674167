"""Deployment checks of our own, run by `manage.py check --deploy` next to Django's."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def two_factor_is_on(app_configs, **kwargs):
    """Leads and admins can ban people and see every report: a password alone should not be enough."""
    if settings.TWO_FACTOR_REQUIRED == "off":
        return [
            Warning(
                "Two-factor is off: leads and admins log in with a password alone.",
                hint="Set TWO_FACTOR_REQUIRED=privileged (the default) or all.",
                id="moderation.W001",
            )
        ]
    return []
