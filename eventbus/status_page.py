"""The admin's "Event bus" status page: backlog, lag, dead letters and throughput, the same
figures ``/metrics`` exposes (both read ``eventbus.status.bus_status_get``)."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from eventbus.status import THROUGHPUT_WINDOW, bus_status_get


def bus_status_page(request: HttpRequest) -> HttpResponse:
    """Staff who may view the outbox see the bus's figures now (wrapped in admin_view)."""
    if not request.user.has_perm("eventbus.view_outboxevent"):
        raise PermissionDenied
    status = bus_status_get()
    context = {
        **admin.site.each_context(request),
        "title": "Event bus status",
        "status": status,
        "window_minutes": int(THROUGHPUT_WINDOW.total_seconds() // 60),
        "dead_letters": sorted(status.dead_letters.items()),
    }
    return TemplateResponse(request, "admin/eventbus/status.html", context)
