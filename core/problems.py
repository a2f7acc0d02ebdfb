"""RFC 9457 problem details: the one body of every API error (``application/problem+json``).

A problem has ``type``, ``title``, ``status``, ``detail`` and ``instance``, plus the
extension members ``code`` (a stable machine-readable reason), ``request_id`` (the
``X-Request-ID`` of the request, to quote when reporting it) and, for a request that is
not valid, ``errors``: one ``{"code", "detail", "attr"}`` per field error (``attr`` is
the field, dotted when nested, or null when the request as a whole is refused).

Plain HTTP failures have the type ``about:blank`` and the status phrase as title, as the
RFC says; the problems that mean more than their status have a type of their own, whose
URI is a page that documents it (:func:`problem_type_uri`).
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from core.request_id import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
BLANK_TYPE = "about:blank"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int
    description: str


PROBLEM_TYPES: dict[str, ProblemType] = {
    problem.slug: problem
    for problem in (
        ProblemType(
            "validation-error",
            "Your request is not valid.",
            400,
            "One or more fields (or query parameters, or headers) were refused; `errors` "
            "lists each with its `attr` (null: the request as a whole), a `code` and a "
            "`detail` for people. Nothing was changed: fix the request and send it again.",
        ),
        ProblemType(
            "malformed-request",
            "The request body could not be read.",
            400,
            "The body is not JSON the API can read: a syntax error, invalid UTF-8, or "
            "nesting too deep to parse. Nothing was changed.",
        ),
        ProblemType(
            "idempotency-key-reused",
            "This Idempotency-Key was already used for another request.",
            422,
            "A request with the same `Idempotency-Key` but a different method, path or body "
            "was accepted before (keys are remembered for `IDEMPOTENCY_KEY_TTL`). Use a new "
            "key for a new request; retry a request only with the body it first had.",
        ),
        ProblemType(
            "idempotency-key-in-use",
            "A request with this Idempotency-Key is still being processed.",
            409,
            "The first request with this key has not finished yet. Retry after the "
            "`Retry-After` seconds: you then get the first request's answer.",
        ),
    )
}


def problem_type_uri(slug: str) -> str:
    """Absolute, stable per deployment (``SITE_URL``), and a page that documents the type."""
    return f"{settings.SITE_URL}/api/problems/{slug}/"


def problem_body(
    *,
    status: int,
    detail: str,
    code: str,
    instance: str,
    type_slug: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The problem document; a ``type_slug`` names one of :data:`PROBLEM_TYPES`."""
    if type_slug is None:
        type_uri, title = BLANK_TYPE, HTTPStatus(status).phrase
    else:
        type_uri, title = problem_type_uri(type_slug), PROBLEM_TYPES[type_slug].title
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": current_request_id() or "",
    }
    if errors is not None:
        body["errors"] = errors
    return body


def server_error_detail() -> str:
    """What a 500 says instead of the exception: the id that finds it in the logs."""
    return (
        "The server failed to answer this request. Quote request id "
        f"{current_request_id() or '-'} when you report it."
    )


def problem_response(
    request: HttpRequest, *, status: int, detail: str, code: str, **members: Any
) -> JsonResponse:
    """A problem as a plain Django response, for errors that happen outside DRF's views."""
    body = problem_body(status=status, detail=detail, code=code, instance=request.path, **members)
    return JsonResponse(body, status=status, content_type=PROBLEM_MEDIA_TYPE)
