"""The dashboard's daily chart, sent vs recovered, as SVG rendered on the server by pygal.

The SVG goes into the dashboard page, which runs under the site's Content-Security-Policy:
no inline script or style. So pygal's script (its tooltips' configuration; ``js=[]``
already keeps it from loading its tooltip code from elsewhere), the tooltip box only that
code shows, its ``<style>`` and any ``style`` attribute are taken out of the SVG, and its
stylesheet is a static file, ``notifications/static/notifications/recovery_chart.css``,
which the chart's fixed element id scopes. That file is what :func:`chart_stylesheet`
makes (``python -m notifications.chart > notifications/static/notifications/recovery_chart.css``
after changing the style or upgrading pygal; a test keeps the two the same).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pygal
from pygal.style import Style

if TYPE_CHECKING:
    from notifications.recovery_figures import Day

# The chart's element id is "chart-" and this: fixed (pygal makes a random one), so that a
# static stylesheet can be scoped to it. One such chart per page.
CHART_ID = "recovery-daily"
SERIES = ("Reminders sent", "Orders recovered")

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    colors=("#417690", "#2e7d32"),
    font_family="-apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)
_INLINE = {"script", "style"}


def _local_name(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""  # comments have no name


def _without_inline_code(root: Any) -> Any:
    """pygal's XML filter (lxml or the standard library's etree alike): the SVG without
    script, style elements or style attributes, nor the tooltip that only script shows."""
    for parent in list(root.iter()):
        for child in list(parent):
            classes = (child.get("class") or "").split() if _local_name(child) else []
            if _local_name(child) in _INLINE or "tooltip-overlay" in classes:
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("style", None)
    return root


def _chart(**options: Any) -> pygal.Bar:
    chart = pygal.Bar(
        js=[],
        style=_STYLE,
        width=900,
        height=280,
        disable_xml_declaration=True,
        legend_at_bottom=True,
        show_minor_x_labels=False,
        x_label_rotation=0,
        print_values=False,
        include_x_axis=True,
        truncate_label=-1,
        margin=8,
        **options,
    )
    chart.uuid = CHART_ID
    return chart


def daily_chart_svg(days: list[Day]) -> str:
    """A bar chart of reminders sent and orders recovered per day, with nothing inline that
    the page's Content-Security-Policy would block (its style is ``recovery_chart.css``)."""
    chart = _chart()
    chart.add_xml_filter(_without_inline_code)
    chart.x_labels = [day.day.strftime("%d %b") for day in days]
    # Whole numbers on the y axis: these are counts.
    highest = max([day.sent for day in days] + [day.recovered for day in days] + [1])
    step = max(1, -(-highest // 5))
    chart.y_labels = list(range(0, highest + step, step))
    # Label every day for a week; then about every seventh, or they overlap.
    every = 1 if len(days) <= 7 else 7
    chart.x_labels_major = chart.x_labels[::every]
    chart.add(SERIES[0], [day.sent for day in days])
    chart.add(SERIES[1], [day.recovered for day in days])
    return chart.render(is_unicode=True)


def chart_stylesheet() -> str:
    """The stylesheet pygal makes for the chart (its style, its two series, its id)."""
    chart = _chart(pretty_print=True)
    for name in SERIES:
        chart.add(name, [0])
    styles = [
        element.text or ""
        for element in chart.render_tree().iter()
        if _local_name(element) == "style"
    ]
    header = (
        "/* The recovery dashboard's chart: the stylesheet pygal makes for it\n"
        "   (notifications/chart.py: `python -m notifications.chart > this file`). */\n"
    )
    return header + "\n".join(text.strip() for text in styles) + "\n"


if __name__ == "__main__":
    sys.stdout.write(chart_stylesheet())
