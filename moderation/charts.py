"""Charts for leads' dashboards, drawn on the server as SVG: no chart library, no script, no outside request,
so they render under the strict CSP (`style-src 'self'`, `script-src 'self'`) and in any theme.

Every chart carries its own text alternative (`summary`), its table (`headers`, `rows`) and its CSV, because a
chart is for looking and a table is for checking: screen readers, copy-paste and spreadsheets get the same
numbers. Colours come from CSS classes (`series-0` … `series-5`, `chart-*` in static/css/app.css), so dark and
light themes restyle them without touching the markup. All text is escaped here; callers pass plain strings.

Kinds: `line` (a value over time per series; None leaves a gap), `bar` (grouped bars per x label) and
`stacked` (bars whose series add up, e.g. decisions by source).
"""

import math
from dataclasses import dataclass, field

from django.http import HttpResponse
from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from moderation.spreadsheets import csv_response

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 30
PALETTE = 6  # series-0 … series-5, then the colours repeat
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: list[float | None]


@dataclass
class Chart:
    slug: str  # stable id: the element id and `?csv=<slug>`
    title: str
    x_labels: list[str]
    series: list[Series] = field(default_factory=list)
    kind: str = "line"
    unit: str = ""  # "cases", "minutes", "%": shown in the table header and the summary
    x_title: str = ""

    # -- reading ---------------------------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return not any(v for s in self.series for v in s.values if v)

    @property
    def legend(self) -> list[tuple[str, str]]:
        return [(s.name, f"series-{index % PALETTE}") for index, s in enumerate(self.series)]

    @property
    def headers(self) -> list[str]:
        unit = f" ({self.unit})" if self.unit else ""
        return [self.x_title or "", *[f"{s.name}{unit}" for s in self.series]]

    @property
    def rows(self) -> list[list]:
        return [
            [label, *[_plain(s.values[i]) if i < len(s.values) else None for s in self.series]]
            for i, label in enumerate(self.x_labels)
        ]

    @property
    def table_body(self) -> SafeString:
        """The table's rows as HTML. Built here, not cell by cell in the template: a 30-day page has ~1,400
        cells, and the template engine's per-cell variable resolution and number localisation were the largest
        share of the lead dashboards' time (bench/dashboard_queues.py). Same markup and text as the template
        gave (numbers as `str`, which is what en-us localisation without thousand separators prints)."""
        parts = []
        for label, *cells in self.rows:
            tds = "".join(f'<td class="num">{"-" if cell is None else escape(cell)}</td>' for cell in cells)
            parts.append(f'<tr><th scope="row">{escape(label)}</th>{tds}</tr>')
        return mark_safe("".join(parts))  # noqa: S308 - every cell and label went through escape()

    @property
    def summary(self) -> str:
        """A sentence or two a screen reader can say instead of the picture."""
        if self.is_empty:
            return _("%(title)s: no data in this period.") % {"title": self.title}
        parts = []
        for s in self.series[:PALETTE]:
            known = [v for v in s.values if v is not None]
            if not known:
                continue
            if self.kind == "line":
                parts.append(
                    _("%(series)s from %(first)s to %(last)s, highest %(highest)s")
                    % {
                        "series": s.name,
                        "first": _fmt(known[0]),
                        "last": _fmt(known[-1]),
                        "highest": _fmt(max(known)),
                    }
                )
            else:
                parts.append(
                    _("%(series)s total %(total)s, highest %(highest)s")
                    % {"series": s.name, "total": _fmt(sum(known)), "highest": _fmt(max(known))}
                )
        extra = len(self.series) - PALETTE
        more = (
            ngettext(" and %(count)d more series", " and %(count)d more series", extra) % {"count": extra}
            if extra > 0
            else ""
        )
        unit = f" ({self.unit})" if self.unit else ""
        return (
            f"{self.title}{unit}: " + "; ".join(parts) + more + ". " + _("The table below has every value.")
        )

    def csv(self, filename: str | None = None) -> HttpResponse:
        return csv_response(filename or f"{self.slug}.csv", self.headers, self.rows)

    # -- drawing ---------------------------------------------------------------------------------------------
    def svg(self) -> SafeString:
        plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
        top = self._top()
        n = max(len(self.x_labels), 1)
        parts = [
            f'<svg class="chart chart-{escape(self.kind)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{escape(self.slug)}-title {escape(self.slug)}-desc" '
            f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
            f'<title id="{escape(self.slug)}-title">{escape(self.title)}</title>',
            f'<desc id="{escape(self.slug)}-desc">{escape(self.summary)}</desc>',
        ]
        for tick in range(5):  # gridlines and y labels at 0, 1/4 … top
            value = top * tick / 4
            y = TOP + plot_h - plot_h * tick / 4
            parts.append(
                f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            )
            parts.append(
                f'<text class="chart-axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}</text>'
            )
        step = max(1, math.ceil(n / MAX_X_LABELS))
        for i, label in enumerate(self.x_labels):
            if i % step:
                continue
            x = LEFT + plot_w * (i + 0.5) / n
            parts.append(
                f'<text class="chart-axis" x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="middle">{escape(label)}</text>'
            )
        if self.kind == "line":
            parts += self._lines(top, plot_w, plot_h, n)
        else:
            parts += self._bars(top, plot_w, plot_h, n)
        parts.append("</svg>")
        return mark_safe("".join(parts))  # noqa: S308 - every piece of text above went through escape()

    def _top(self) -> float:
        if self.kind == "stacked":
            totals = [
                sum((s.values[i] or 0) for s in self.series if i < len(s.values))
                for i in range(len(self.x_labels))
            ]
            peak = max(totals, default=0)
        else:
            peak = max((v for s in self.series for v in s.values if v is not None), default=0)
        return _nice_ceiling(peak)

    def _lines(self, top, plot_w, plot_h, n) -> list[str]:
        out = []
        for index, s in enumerate(self.series):
            css = f"chart-line series-{index % PALETTE}"
            segment: list[str] = []
            segments: list[list[str]] = []
            for i, value in enumerate(s.values[:n]):
                if value is None:
                    if segment:
                        segments.append(segment)
                    segment = []
                    continue
                x = LEFT + plot_w * (i + 0.5) / n
                y = TOP + plot_h - plot_h * (value / top)
                segment.append(f"{x:.1f},{y:.1f}")
            if segment:
                segments.append(segment)
            for points in segments:
                if len(points) == 1:  # a lone point between gaps is still shown
                    x, y = points[0].split(",")
                    out.append(f'<circle class="{css}" cx="{x}" cy="{y}" r="2.5"/>')
                else:
                    out.append(f'<polyline class="{css}" fill="none" points="{" ".join(points)}"/>')
        return out

    def _bars(self, top, plot_w, plot_h, n) -> list[str]:
        out = []
        slot = plot_w / n
        groups = 1 if self.kind == "stacked" else max(len(self.series), 1)
        bar_w = max(slot * 0.8 / groups, 1.0)
        for i, label in enumerate(self.x_labels):
            base = TOP + plot_h
            for index, s in enumerate(self.series):
                value = s.values[i] if i < len(s.values) else None
                if not value:
                    continue
                h = plot_h * (value / top)
                if self.kind == "stacked":
                    x, y = LEFT + slot * i + slot * 0.1, base - h
                    base -= h
                else:
                    x, y = LEFT + slot * i + slot * 0.1 + bar_w * index, TOP + plot_h - h
                tip = f"{s.name}, {label}: {_fmt(value)}{' ' + self.unit if self.unit else ''}"
                out.append(
                    f'<rect class="chart-bar series-{index % PALETTE}" x="{x:.1f}" y="{y:.1f}" '
                    f'width="{bar_w:.1f}" height="{h:.1f}"><title>{escape(tip)}</title></rect>'
                )
        return out


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times 10^k at or above value, so the axis reads in round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _plain(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        return round(value, 2)
    return value


def _fmt(value: float) -> str:
    """A number for the picture and its text alternative, in the active language's format (1,234.5 / 1.234,5)."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return number_format(round(value), 0, force_grouping=True)
    if float(value).is_integer():
        return str(int(value))
    return number_format(round(value, 1), 1)
