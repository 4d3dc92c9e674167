"""Template filters that make things readable: timestamps that say their time zone, audit details as a list."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date

register = template.Library()


@register.filter
def stamp(value: datetime | None, precision: str = "") -> str:
    """`2026-12-02 14:05 CET` (`|stamp:"seconds"`: 14:05:09 CET): in the person's time zone
    (moderation.comfort.time_zone_middleware), named."""
    if not isinstance(value, datetime):
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return format_date(value, "Y-m-d H:i:s T" if precision == "seconds" else "Y-m-d H:i T")


def _readable(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
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
