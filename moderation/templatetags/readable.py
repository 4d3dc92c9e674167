"""Template filters that make things readable: timestamps that say their time zone, audit details as a list."""

from datetime import datetime

from django import template
from django.utils import timezone, translation
from django.utils.dateformat import format as format_date
from django.utils.translation import gettext

register = template.Library()


# (minutes, seconds) per language. Django's own English formats would be `12/02/2026 2:05 p.m.`, which reads
# differently on each side of the Atlantic: English keeps the ISO order agents already know; German writes the
# day first, as German readers expect. Every format ends in the zone's name (T), so a time never stands alone.
STAMP_FORMATS = {
    "en": ("Y-m-d H:i T", "Y-m-d H:i:s T"),
    "de": ("d.m.Y H:i T", "d.m.Y H:i:s T"),
}


@register.filter
def stamp(value: datetime | None, precision: str = "") -> str:
    """`2026-12-02 14:05 CET` (`|stamp:"seconds"`: 14:05:09 CET), `02.12.2026 14:05 CET` in German: in the
    person's time zone (moderation.comfort.time_zone_middleware), named, in the active language's order."""
    if not isinstance(value, datetime):
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    language = (translation.get_language() or "en").split("-")[0]
    minutes, seconds = STAMP_FORMATS.get(language, STAMP_FORMATS["en"])
    return format_date(value, seconds if precision == "seconds" else minutes)


def _readable(value) -> str:
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_readable(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_readable(item)}" for key, item in value.items()) or "—"
    return str(value)


@register.filter
def detail_items(data) -> list[tuple[str, str]]:
    """An audit event's data as (label, value) pairs, keys sorted, labels in words ("first_decider" →
    "first decider"). Values are text: the template escapes them."""
    if not isinstance(data, dict):
        return [("value", _readable(data))] if data not in (None, "", {}) else []
    return [(str(key).replace("_", " "), _readable(data[key])[:400]) for key in sorted(data)]
