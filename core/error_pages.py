"""Django's error views, answering problem details under ``/api/`` and the shop's HTML
pages everywhere else (``handler400``/``403``/``404``/``500`` in ``config.urls``).

DRF's views never get here (their errors are problems already, :mod:`core.api`); these
cover what fails outside them: an unknown ``/api/`` path, a refused host, a crash in a
middleware.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from core.problems import problem_response, server_error_detail

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    # The event catalog page lives under /api/events/ but is a page for people.
    return request.path.startswith(API_PREFIX) and not request.path.startswith("/api/events/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(request, status=400, detail="Bad request.", code="bad_request")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            request, status=403, detail="You may not do this.", code="permission_denied"
        )
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            request, status=404, detail="No API operation at this path.", code="not_found"
        )
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            request, status=500, detail=server_error_detail(), code="server_error"
        )
    return defaults.server_error(request)
