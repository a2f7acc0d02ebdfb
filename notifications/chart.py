"""The dashboard's daily chart, sent vs recovered, as SVG rendered on the server by pygal:
no script and no stylesheet from elsewhere (``js=[]``: pygal's tooltips would load one)."""

from __future__ import annotations

import pygal
from pygal.style import Style

from notifications.recovery_figures import Day

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    colors=("#417690", "#2e7d32"),
    font_family="-apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)


def daily_chart_svg(days: list[Day]) -> str:
    """A bar chart of reminders sent and orders recovered per day."""
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
    )
    chart.x_labels = [day.day.strftime("%d %b") for day in days]
    # Whole numbers on the y axis: these are counts.
    highest = max([day.sent for day in days] + [day.recovered for day in days] + [1])
    step = max(1, -(-highest // 5))
    chart.y_labels = list(range(0, highest + step, step))
    # Label every day for a week; then about every seventh, or they overlap.
    every = 1 if len(days) <= 7 else 7
    chart.x_labels_major = chart.x_labels[::every]
    chart.add("Reminders sent", [day.sent for day in days])
    chart.add("Orders recovered", [day.recovered for day in days])
    return chart.render(is_unicode=True)
