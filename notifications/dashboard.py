"""The recovery dashboard, ``/admin/recovery/``: what the reminders did in a period, the
sending controls in force, and what is due next. Staff with the right to view reminders."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe

from notifications.chart import daily_chart_svg
from notifications.controls import controls_summary
from notifications.recovery_figures import (
    DEFAULT_PERIOD,
    PERIODS,
    recovery_figures,
    reminders_due_soon,
)


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=[(days, f"{days} days") for days in PERIODS],
        coerce=int,
        required=False,
        empty_value=DEFAULT_PERIOD,
    )


def recovery_dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("notifications.view_reminder"):
        raise PermissionDenied
    form = PeriodForm(request.GET)
    if not form.is_valid():
        response = TemplateResponse(
            request,
            "admin/notifications/recovery_dashboard_bad_period.html",
            {**admin.site.each_context(request), "title": "Recovery dashboard", "form": form},
            status=400,
        )
        return response
    days = form.cleaned_data["days"]
    figures = recovery_figures(days=days)
    context = {
        **admin.site.each_context(request),
        "title": "Abandoned-cart recovery",
        "figures": figures,
        "periods": PERIODS,
        # pygal's own SVG of our own numbers: nothing from a request is in it.
        "chart": mark_safe(daily_chart_svg(figures.daily)),
        "controls": controls_summary(),
        "due_soon": list(reminders_due_soon()[:50]),
    }
    return TemplateResponse(request, "admin/notifications/recovery_dashboard.html", context)
