"""Wellness and comfort: each person's media, theme and time-zone settings over the organisation's defaults,
and how long they had revealed media on screen today (their exposure).

Applied on every page without a query: the resolved settings live in the session (written at login and when
they are saved), so the base template reads classes from there. An admin's change of the defaults reaches a
signed-in person at their next login or their next save of "My settings".

Exposure is measured from the audit log, which already records every reveal (`media.revealed`): each reveal
counts as EXPOSURE_PER_REVEAL_SECONDS of revealed media on screen, or up to the next reveal if that comes
sooner (overlapping windows are counted once).
"""

import zoneinfo
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from moderation.audit import Actor, Verb, record_event
from moderation.comfort_models import Blur, OrgDefaults, Theme, UserSettings
from moderation.models import AuditEvent

SESSION_KEY = "comfort"
CHOSEN = (
    "blur",
    "greyscale",
    "auto_reveal",
    "mute_video",
    "enlarge_on_reveal",
    "exposure_budget_minutes",
    "theme",
)
# Every field a person may set: those over an organisation default, and those without one.
PERSONAL = (*CHOSEN, "time_zone", "language")


@dataclass(frozen=True)
class Comfort:
    """One person's settings in force (their choice, else the organisation's default)."""

    blur: str = Blur.MEDIUM
    greyscale: bool = True
    auto_reveal: bool = False
    mute_video: bool = True
    enlarge_on_reveal: bool = False
    exposure_budget_minutes: int = 60
    theme: str = Theme.SYSTEM
    time_zone: str = ""
    language: str = ""  # empty: the switcher's cookie or the browser's Accept-Language (moderation.language)

    @property
    def html_class(self) -> str:
        """On <html>: a chosen theme; none follows the system's (prefers-color-scheme)."""
        return f"theme-{self.theme}" if self.theme in (Theme.LIGHT, Theme.DARK) else ""

    @property
    def theme_label(self) -> str:
        return Theme(self.theme).label if self.theme in Theme.values else Theme.SYSTEM.label

    @property
    def body_class(self) -> str:
        """On <body>: how media is shown (static/css/app.css, static/js/app.js read these)."""
        names = [f"blur-{self.blur}"]
        names.append("greyscale" if self.greyscale else "colour-media")
        flags = (
            ("auto-reveal", self.auto_reveal),
            ("mute-video", self.mute_video),
            ("enlarge-on-reveal", self.enlarge_on_reveal),
        )
        names += [name for name, on in flags if on]
        return " ".join(names)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)


def org_defaults() -> OrgDefaults:
    """The organisation's row (created with the model's defaults on first use)."""
    return OrgDefaults.objects.get_or_create(pk=1)[0]


def resolve_comfort(user) -> Comfort:
    """The settings in force for `user` (two queries)."""
    defaults = org_defaults()
    own = UserSettings.objects.filter(user_id=user.pk).first()
    values = {name: getattr(defaults, name) for name in CHOSEN}
    if own is not None:
        for name in CHOSEN:
            chosen = getattr(own, name)
            if chosen not in (None, ""):
                values[name] = chosen
        values["time_zone"] = own.time_zone
        values["language"] = own.language
    return Comfort(**values)


def remember_comfort(request, user) -> Comfort:
    comfort = resolve_comfort(user)
    request.session[SESSION_KEY] = asdict(comfort)
    return comfort


def session_comfort(request) -> Comfort:
    """The settings in force for this request, from the session (no query); the built-in defaults if none."""
    stored = getattr(request, "session", None) and request.session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return Comfort()
    known = {field.name for field in fields(Comfort)}
    try:
        return Comfort(**{key: value for key, value in stored.items() if key in known})
    except TypeError:
        return Comfort()


def valid_time_zone(name: str) -> bool:
    return name == "" or name in zoneinfo.available_timezones()


@transaction.atomic
def save_user_settings(*, user, values: dict) -> UserSettings:
    """A person saves "My settings". Audited (`settings.changed`, with what they chose)."""
    own, _ = UserSettings.objects.select_for_update().get_or_create(user=user)
    for name in PERSONAL:
        if name in values:
            setattr(own, name, values[name])
    own.full_clean()
    own.save()
    record_event(
        actor=Actor.for_user(user),
        verb=Verb.SETTINGS_CHANGED,
        target=own,
        data={name: getattr(own, name) for name in PERSONAL},
    )
    return own


# --- Exposure -------------------------------------------------------------------------------------------


def day_start(comfort: Comfort, now: datetime | None = None) -> datetime:
    """Midnight today in the person's time zone."""
    local = timezone.localtime(now or timezone.now(), comfort.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def exposure_seconds(reveal_times: list[datetime]) -> float:
    """Revealed media on screen: each reveal opens a window of EXPOSURE_PER_REVEAL_SECONDS, counted in full
    from the moment of the reveal (looking is what the budget is about); overlapping windows count once."""
    window = timedelta(seconds=settings.EXPOSURE_PER_REVEAL_SECONDS)
    total = 0.0
    open_until = None
    for at in sorted(reveal_times):
        end = at + window
        if open_until is None or at >= open_until:
            total += max((end - at).total_seconds(), 0)
        elif end > open_until:
            total += (end - open_until).total_seconds()
        open_until = end if open_until is None else max(open_until, end)
    return total


def reveal_times(*, actor_ids: list[str] | None, since: datetime, events=None) -> dict[str, list[datetime]]:
    """Reveal times since `since` per actor id (one query). `events` narrows the rows (visibility)."""
    rows = (events if events is not None else AuditEvent.objects).filter(
        verb=Verb.MEDIA_REVEALED, actor_type=AuditEvent.ActorType.USER, at__gte=since
    )
    if actor_ids is not None:
        rows = rows.filter(actor_id__in=actor_ids)
    out: dict[str, list[datetime]] = {}
    for actor_id, at in rows.values_list("actor_id", "at"):
        out.setdefault(actor_id, []).append(at)
    return out


@dataclass(frozen=True)
class Exposure:
    minutes: int
    budget_minutes: int

    @property
    def over_budget(self) -> bool:
        return bool(self.budget_minutes) and self.minutes >= self.budget_minutes


def my_exposure(user, comfort: Comfort, *, now: datetime | None = None) -> Exposure:
    """Today's exposure of one person (one query): shown to them only, never to their lead."""
    now = now or timezone.now()
    times = reveal_times(actor_ids=[str(user.pk)], since=day_start(comfort, now)).get(str(user.pk), [])
    return Exposure(int(exposure_seconds(times) // 60), comfort.exposure_budget_minutes)


# --- Per request ----------------------------------------------------------------------------------------


def comfort_context(request) -> dict:
    """Template context processor: `comfort` (classes for <html> and <body>)."""
    return {"comfort": session_comfort(request)}


def time_zone_middleware(get_response):
    """Dates on pages in the person's time zone (their setting, else TIME_ZONE)."""

    def middleware(request):
        comfort = session_comfort(request)
        if comfort.time_zone and valid_time_zone(comfort.time_zone):
            with timezone.override(comfort.zone):
                return get_response(request)
        return get_response(request)

    return middleware


def on_login(sender, request, user, **kwargs) -> None:
    """Signal receiver (user_logged_in): load the person's settings into the new session."""
    if request is not None and hasattr(request, "session"):
        remember_comfort(request, user)
