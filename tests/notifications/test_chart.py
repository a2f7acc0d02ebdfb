"""The dashboard's chart runs under the Content-Security-Policy: nothing inline in its SVG,
its style from the static stylesheet, which is what pygal makes for it."""

from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

from notifications.chart import CHART_ID, chart_stylesheet, daily_chart_svg
from notifications.recovery_figures import Day

STYLESHEET = Path(__file__).parents[2] / "notifications/static/notifications/recovery_chart.css"


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def elements(svg: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(svg)
    return parser.tags


def test_the_chart_has_no_script_no_style_and_its_fixed_id():
    days = [
        Day(date(2026, 3, 1) + timedelta(days=offset), offset % 3, offset % 2)
        for offset in range(7)
    ]

    tags = elements(daily_chart_svg(days))

    root, attributes = tags[0]
    assert root == "svg" and attributes["id"] == f"chart-{CHART_ID}"
    assert "pygal-chart" in attributes["class"].split()
    names = [name for name, _ in tags]
    assert "script" not in names and "style" not in names
    assert [
        name for name, attrs in tags if "style" in attrs or any(a.startswith("on") for a in attrs)
    ] == []
    classes = " ".join(attrs.get("class") or "" for _, attrs in tags)
    assert "tooltip-overlay" not in classes  # only pygal's script would show it
    # The bars are all there: one per day and series.
    bars = [attrs for name, attrs in tags if name == "rect" and "rect" in attrs["class"].split()]
    assert len(bars) == 2 * len(days)


def test_the_committed_stylesheet_is_the_one_pygal_makes_for_the_chart():
    assert STYLESHEET.read_text() == chart_stylesheet(), (
        "notifications/static/notifications/recovery_chart.css is out of date: run "
        "`.venv/bin/python -m notifications.chart > "
        "notifications/static/notifications/recovery_chart.css`"
    )
    assert f"#chart-{CHART_ID} .color-0" in STYLESHEET.read_text()  # scoped to the chart
