"""The event catalog over HTTP: the AsyncAPI document, and the same as a page for people."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from eventbus.catalog import asyncapi_document
from eventbus.catalog_page import catalog_page


@require_safe
def asyncapi_json(request: HttpRequest) -> JsonResponse:
    """``GET /api/events/asyncapi.json``: the catalog of this deployment's code."""
    return JsonResponse(asyncapi_document(), json_dumps_params={"indent": 2})


@require_safe
def event_catalog_page(request: HttpRequest) -> HttpResponse:
    """``GET /api/events/``: event types, their fields and versions, who publishes and who
    subscribes, rendered from the same document."""
    return render(request, "eventbus/catalog.html", {"catalog": catalog_page(asyncapi_document())})
