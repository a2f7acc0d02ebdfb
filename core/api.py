"""The API's errors: every one is an RFC 9457 problem (:mod:`core.problems`), never an
HTML page.

drf-standardized-errors does the handling (every exception, 500s included, becomes a
response; server errors are logged and signalled as Django does); the classes below only
give its output the problem-details shape and media type.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_standardized_errors.formatter import ExceptionFormatter, flatten_errors
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.handler import exception_handler as standardized_exception_handler
from rest_framework import exceptions
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.settings import api_settings

from core.parsers import PayloadTooLarge
from core.problems import PROBLEM_MEDIA_TYPE, problem_body, server_error_detail


class ProblemException(exceptions.APIException):
    """An API error with a problem type of its own (``problem_type``, a slug of
    :data:`core.problems.PROBLEM_TYPES`); raise a subclass from a view."""

    problem_type: str


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The API's exception handler, taught two Django exceptions first: a service's
    ``ValidationError`` is a 400 with its field errors and their codes (the one place they
    are translated), a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` a 413."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge.over_the_limit()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(get_error_detail(exc))
    return standardized_exception_handler(exc, context)


class ProblemDetailsHandler(ExceptionHandler):
    """drf-standardized-errors' handler, answering ``application/problem+json``."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        # The library drops Http404's message; "No Product matches the given query." helps.
        if isinstance(exc, Http404):
            return exceptions.NotFound(*exc.args)
        return super().convert_known_exceptions(exc)

    def get_headers(self, exc: exceptions.APIException) -> dict:
        headers = super().get_headers(exc)
        if isinstance(exc, exceptions.Throttled):
            # DRF leaves it out when a throttle cannot tell (wait() None); a 429 says when.
            headers.setdefault("Retry-After", "1")
        return headers

    def get_response(self, exc: exceptions.APIException, data: dict) -> Response:
        return Response(
            data,
            status=exc.status_code,
            headers=self.get_headers(exc),
            content_type=PROBLEM_MEDIA_TYPE,
        )


class ProblemDetailsFormatter(ExceptionFormatter):
    """Formats the exception as a problem document; field errors go to ``errors``."""

    def run(self) -> dict[str, Any]:
        exc = self.exc
        request = self.context.get("request")
        instance = request.path if request is not None else ""
        code = _first_code(exc)
        if isinstance(exc, exceptions.ValidationError):
            errors = field_errors(exc.detail)
            return problem_body(
                status=exc.status_code,
                detail=" ".join(error["detail"] for error in errors) or "Invalid input.",
                code="invalid",
                instance=instance,
                type_slug="validation-error",
                errors=errors,
            )
        if exc.status_code >= 500:
            return problem_body(
                status=exc.status_code,
                detail=server_error_detail(),
                code="server_error",
                instance=instance,
            )
        type_slug = getattr(exc, "problem_type", None)
        if isinstance(exc, exceptions.ParseError):
            type_slug = "malformed-request"
        return problem_body(
            status=exc.status_code,
            detail=str(exc.detail),
            code=code,
            instance=instance,
            type_slug=type_slug,
        )


def field_errors(detail: Any) -> list[dict[str, Any]]:
    """DRF's nested error detail as a flat list; non-field errors have ``attr`` null."""
    non_field = {api_settings.NON_FIELD_ERRORS_KEY, "__all__"}
    return [
        {
            "code": error.code,
            "detail": error.detail,
            "attr": None if error.attr in non_field else error.attr,
        }
        for error in flatten_errors(detail)
    ]


def _first_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    while isinstance(codes, list | dict):
        codes = next(iter(codes.values() if isinstance(codes, dict) else codes), "error")
    return str(codes)
