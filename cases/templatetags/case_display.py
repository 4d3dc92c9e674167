"""Template filters for showing hostile content and case timing."""

import functools
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _

from cases.content_display import host_warning, render_hostile_text, render_url, url_host
from cases.search_selectors import author_url as _author_url

register = template.Library()


@register.simple_tag
def author_url(author_id) -> str:
    """The author page of `author_id` (a query parameter: author ids may hold any character)."""
    return _author_url(str(author_id or ""))


@register.filter
def hostile_text(value, limit=None):
    return render_hostile_text(value, limit=int(limit) if limit else None)


@register.filter
def hostile_url(value):
    return render_url(value)


@register.filter
def host_of(value) -> str:
    return url_host(str(value or ""))


@register.filter
def host_caution(value) -> str:
    return host_warning(str(value or ""))


@register.filter
def age(value: datetime | None, *, now: datetime | None = None) -> str:
    """Compact age: 45s, 12m, 3h, 2d. (`now`: a caller showing many reads the clock once.)"""
    if value is None:
        return "—"
    return _compact(((now or timezone.now()) - value).total_seconds())


@register.filter
def due_in(
    value: datetime | None, *, now: datetime | None = None, phrases: tuple[str, str, str] | None = None
) -> str:
    """Time to an SLA deadline: 'in 3h' or '2h late'. (`phrases`: "no SLA", "in %(time)s" and
    "%(time)s late" already translated, for a caller showing many.)"""
    no_sla, ahead, late = phrases or (_("no SLA"), _("in %(time)s"), _("%(time)s late"))
    if value is None:
        return no_sla
    seconds = (value - (now or timezone.now())).total_seconds()
    if seconds >= 0:
        return ahead % {"time": _compact(seconds)}
    return late % {"time": _compact(-seconds)}


@register.filter
def sla_state(value: datetime | None, *, now: datetime | None = None) -> str:
    """CSS state for an SLA deadline: late, soon (under an hour), ok, none."""
    if value is None:
        return "none"
    seconds = (value - (now or timezone.now())).total_seconds()
    return "late" if seconds < 0 else "soon" if seconds < 3600 else "ok"


@register.filter
def percent(value) -> str:
    if value is None:
        return "—"
    return f"{float(value) * 100:.0f}%"


@functools.lru_cache(maxsize=16)
def _units(language: str | None) -> tuple[tuple[str, int], ...]:
    """The unit letters in `language`, looked up once per language: a queue page shows two durations a row,
    and four catalogue look-ups each were a third of the page's time."""
    # One letter per unit, so each is translated alone ("2d" is "2T" in German); the context keeps the
    # letters apart from any other "d" or "m" in the catalogue.
    return (
        (pgettext("compact duration: days", "d"), 86400),
        (pgettext("compact duration: hours", "h"), 3600),
        (pgettext("compact duration: minutes", "m"), 60),
        (pgettext("compact duration: seconds", "s"), 1),
    )


def _compact(seconds: float) -> str:
    seconds = max(0, int(seconds))
    units = _units(get_language())
    for unit, size in units[:-1]:
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}{units[-1][0]}"
