"""Server-drawn charts: escaped, accessible, with the same numbers in the picture, the table and the CSV."""

from datetime import UTC, datetime

import pytest

from moderation.charts import Chart, Series, _nice_ceiling
from moderation.errors import Invalid
from moderation.periods import parse_period
from moderation.spreadsheets import csv_text, safe_cell

NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)


def test_chart_escapes_every_label_and_series_name():
    chart = Chart(
        slug="backlog",
        title="<script>t</script>",
        x_labels=['"><img src=x onerror=alert(1)>'],
        series=[Series("</svg><script>", [3])],
        kind="bar",
    )
    svg = str(chart.svg())
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg


def test_chart_has_a_text_alternative_with_its_numbers():
    chart = Chart(slug="b", title="Backlog", x_labels=["a", "b", "c"], series=[Series("spam", [10, 35, 30])])
    svg = str(chart.svg())
    assert 'role="img"' in svg and 'aria-labelledby="b-title b-desc"' in svg
    assert "spam from 10 to 30, highest 35" in chart.summary
    assert "spam from 10 to 30, highest 35" in svg


def test_line_chart_leaves_a_gap_for_missing_values():
    chart = Chart(slug="g", title="G", x_labels=list("abcde"), series=[Series("q", [1, 2, None, 4, 5])])
    svg = str(chart.svg())
    assert svg.count("<polyline") == 2


def test_a_lone_point_between_gaps_is_still_drawn():
    chart = Chart(slug="g", title="G", x_labels=list("abc"), series=[Series("q", [None, 2, None])])
    assert "<circle" in str(chart.svg())


def test_stacked_bars_scale_to_the_total_not_the_largest_series():
    chart = Chart(
        slug="s",
        title="S",
        kind="stacked",
        x_labels=["d1"],
        series=[Series("agent", [60]), Series("auto", [40])],
    )
    svg = str(chart.svg())
    assert ">100<" in svg  # the top of the axis is the stacked total, rounded
    assert svg.count("<rect") == 2


def test_table_and_csv_carry_the_same_values():
    chart = Chart(
        slug="t", title="T", unit="cases", x_labels=["01 Dec"], series=[Series("=cmd|' /C calc'!A0", [2.0])]
    )
    assert chart.headers == ["", "=cmd|' /C calc'!A0 (cases)"]
    assert chart.rows == [["01 Dec", 2]]
    body = chart.csv().content.decode()
    assert "'=cmd" in body  # formula neutralised
    assert "01 Dec,2" in body


def test_table_body_shows_every_row_escaped_with_a_dash_for_gaps():
    chart = Chart(
        slug="c",
        title="t",
        x_labels=["<b>mon</b>", "tue"],
        series=[Series("a", [3.0, None]), Series("b", [1.25, 7])],
    )

    assert str(chart.table_body) == (
        '<tr><th scope="row">&lt;b&gt;mon&lt;/b&gt;</th><td class="num">3</td><td class="num">1.25</td></tr>'
        '<tr><th scope="row">tue</th><td class="num">-</td><td class="num">7</td></tr>'
    )


def test_an_empty_chart_says_so():
    chart = Chart(slug="e", title="Nothing", x_labels=["a"], series=[Series("q", [0])])
    assert chart.is_empty and "no data" in chart.summary


@pytest.mark.parametrize(("peak", "top"), [(0, 1), (7, 10), (11, 20), (21, 25), (230, 250), (4001, 5000)])
def test_axis_tops_are_round_numbers(peak, top):
    assert _nice_ceiling(peak) == top


def test_spreadsheet_cells_that_look_like_formulas_become_text():
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell(-3) == -3  # numbers stay numbers
    assert safe_cell(None) == ""
    assert csv_text(["a"], [["+x"]]).splitlines() == ["a", "'+x"]


def test_period_today_has_hourly_buckets():
    period = parse_period({"period": "today"}, now=NOW)
    assert period.start == datetime(2026, 12, 2, tzinfo=UTC)
    assert len(period.buckets()) == 24 and period.bucket == "hour"


def test_period_seven_days_ends_after_today():
    period = parse_period({}, now=NOW)
    assert period.key == "7d" and len(period.buckets()) == 7
    assert period.end == datetime(2026, 12, 3, tzinfo=UTC)
    assert period.bucket_of(NOW) == datetime(2026, 12, 2, tzinfo=UTC)


def test_custom_period_includes_its_last_day_and_round_trips():
    period = parse_period({"period": "custom", "from": "2026-11-01", "to": "2026-11-30"}, now=NOW)
    assert len(period.buckets()) == 30
    assert period.query() == {"period": "custom", "from": "2026-11-01", "to": "2026-11-30"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "year"}, "period"),
        ({"period": "custom", "from": "nope", "to": "2026-11-01"}, "from"),
        ({"period": "custom", "from": "2026-11-02", "to": "2026-11-01"}, "to"),
        ({"period": "custom", "from": "2020-01-01", "to": "2026-11-01"}, "to"),
    ],
)
def test_bad_periods_are_refused_naming_the_field(params, field):
    with pytest.raises(Invalid) as caught:
        parse_period(params, now=NOW)
    assert caught.value.field == field
