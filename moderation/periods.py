"""The reporting period of a lead's dashboard or report: today, 7 days, 30 days or a custom range.

One parser for every page, so `?period=7d` means the same everywhere and a bad custom range is refused with the
field named (never a 500, never a silent "last 30 days"). A period knows its buckets (hours for a day, days
otherwise) so charts and their tables line up, and its bounds are half-open `[start, end)` in UTC.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from moderation.errors import Invalid

CHOICES = (
    ("today", gettext_lazy("Today")),
    ("7d", gettext_lazy("7 days")),
    ("30d", gettext_lazy("30 days")),
    ("custom", gettext_lazy("Custom")),
)
MAX_CUSTOM_DAYS = 366
# The last day a custom period may end on: its end bound (the next midnight) and the buckets after it must
# still be dates, or `?to=9999-12-31` would overflow into a 500.
LAST_DAY = date(9998, 12, 31)


def hour_start(moment: datetime) -> datetime:
    """The UTC hour a moment falls in: the key of every hourly bucket and roll-up row."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    """The UTC day a moment falls in: the key of every daily bucket and roll-up row."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Period:
    key: str  # today | 7d | 30d | custom
    start: datetime
    end: datetime  # exclusive
    bucket: str  # hour | day

    @property
    def step(self) -> timedelta:
        return timedelta(hours=1) if self.bucket == "hour" else timedelta(days=1)

    def buckets(self) -> list[datetime]:
        """Every bucket start in the period, oldest first (a chart's x axis)."""
        out, at = [], self.start
        while at < self.end:
            out.append(at)
            at += self.step
        return out

    def bucket_of(self, moment: datetime) -> datetime:
        return hour_start(moment) if self.bucket == "hour" else day_start(moment)

    def label(self, bucket_start: datetime) -> str:
        # In the active language ("02 Dec" / "02 Dez"); hours read the same everywhere.
        return bucket_start.strftime("%H:00") if self.bucket == "hour" else date_format(bucket_start, "d M")

    def query(self) -> dict[str, str]:
        """The GET parameters that select this period again (links, CSV downloads)."""
        if self.key != "custom":
            return {"period": self.key}
        last_day = (self.end - timedelta(days=1)).date()
        return {"period": "custom", "from": self.start.date().isoformat(), "to": last_day.isoformat()}

    @property
    def title(self) -> str:
        if self.key == "custom":
            last_day = (self.end - timedelta(days=1)).date()
            return _("%(first)s to %(last)s") % {
                "first": self.start.date().isoformat(),
                "last": last_day.isoformat(),
            }
        return str(dict(CHOICES)[self.key])


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        # The field's name stays as it is in the address (`from`, `to`): that is what the person can change.
        raise Invalid(_("%(field)s must be a date as YYYY-MM-DD.") % {"field": field}, field=field) from None


def parse_period(params, *, now: datetime | None = None, default: str = "7d") -> Period:
    """The period named by GET parameters `period` (today, 7d, 30d, custom) and, for custom, `from` and `to`
    (inclusive days). Raises Invalid naming the field."""
    now = (now or timezone.now()).astimezone(UTC)
    key = params.get("period") or default
    today = _day_start(now.date())
    if key == "today":
        return Period("today", today, today + timedelta(days=1), "hour")
    if key in ("7d", "30d"):
        days = int(key[:-1])
        end = today + timedelta(days=1)
        return Period(key, end - timedelta(days=days), end, "day")
    if key != "custom":
        raise Invalid(_("period must be one of today, 7d, 30d, custom."), field="period")
    first = _parse_day(params.get("from", ""), "from")
    last = _parse_day(params.get("to", ""), "to")
    if last < first:
        raise Invalid(_("to must be on or after from."), field="to")
    if last > LAST_DAY:
        raise Invalid(_("to must be on or before %(day)s.") % {"day": LAST_DAY.isoformat()}, field="to")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise Invalid(
            _("A custom period covers at most %(days)d days.") % {"days": MAX_CUSTOM_DAYS}, field="to"
        )
    start, end = _day_start(first), _day_start(last) + timedelta(days=1)
    return Period("custom", start, end, "hour" if end - start <= timedelta(days=1) else "day")
