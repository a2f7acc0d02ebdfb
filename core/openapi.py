"""The OpenAPI schema tells every response an operation can give, with body and headers.

drf-standardized-errors' ``AutoSchema`` works out which errors a view can raise from what
it is made of (authentication, throttles, path parameters, pagination, parsers); this
subclass corrects that for how this API behaves, documents them as problem details
(``application/problem+json``, :mod:`core.problems`) and adds the headers: ``X-Request-ID``
on every response, ``Location`` on a 202, ``Retry-After`` on a 429, ``WWW-Authenticate``
on a 401, and the ``Idempotency-Key`` request header of idempotent operations.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS

from core.authentication import CsrfEnforcingSessionAuthentication
from core.idempotency import KEY_HEADER, KEY_PATTERN, REPLAYED_HEADER
from core.problems import BLANK_TYPE, PROBLEM_MEDIA_TYPE, problem_type_uri


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document."""

    type = serializers.CharField(
        help_text="URI of the problem type, a page that documents it; `about:blank`: the "
        "status code says it all."
    )
    title = serializers.CharField(help_text="Short summary of the problem type.")
    status = serializers.IntegerField(min_value=400, max_value=599)
    detail = serializers.CharField(help_text="What went wrong with this request, for people.")
    instance = serializers.CharField(help_text="The path of the request.")
    code = serializers.CharField(help_text="Machine-readable reason (`not_found`, `throttled`…).")
    request_id = serializers.CharField(
        help_text="The request's `X-Request-ID`: quote it when you report a problem."
    )


class FieldErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable reason (`required`, `max_value`…).")
    detail = serializers.CharField()
    attr = serializers.CharField(
        allow_null=True,
        help_text="The field, query parameter or header refused (dotted when nested); "
        "null when the request as a whole is refused.",
    )


class ValidationProblemSerializer(ProblemSerializer):
    """A problem document of a 400: `validation-error` (with `errors`) or
    `malformed-request` (the body could not be parsed; no `errors`)."""

    errors = FieldErrorSerializer(many=True, required=False)


def _header(schema: dict[str, Any], description: str, *, required: bool = True) -> dict:
    return {"schema": schema, "required": required, "description": description}


REQUEST_ID_HEADER = _header(
    {"type": "string"},
    "Id of this request (the caller's `X-Request-ID` when it is safe, else a new one); the "
    "events the request causes carry it as `correlation_id`.",
)


RESPONSE_DESCRIPTIONS = {
    "200": "OK.",
    "202": "Accepted: the event is recorded and will be applied to the cart shortly.",
    "400": "The request is not valid (`errors` says which fields) or its body unreadable.",
    "401": "The token is not valid.",
    "403": "The CSRF check failed: a request with the session cookie needs `X-CSRFToken`.",
    "404": "No such product, line or page.",
    "405": "The path does not take this method.",
    "406": "No JSON in the `Accept` header.",
    "409": "The first request with this `Idempotency-Key` is still running.",
    "413": "The body is over `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes.",
    "415": "The body is not `application/json`.",
    "422": "This `Idempotency-Key` was used with another method, path or body.",
    "429": "Too many requests: wait `Retry-After` seconds.",
    "500": "The server failed; the problem carries the request id to quote.",
}


class AutoSchema(StandardizedErrorsAutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict:
        responses = super()._get_response_bodies(direction)
        return dict(sorted(responses.items()))

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code in responses:
            return False
        reads_body = self._reads_body()
        if status_code == "400":
            return reads_body or self._is_idempotent() or bool(self._get_extra_validation_errors())
        if status_code == "403":
            # No permission can refuse here; only the CSRF check of cookie sessions.
            return self.method not in SAFE_METHODS and self._has_session_authentication()
        if status_code == "413":
            # The idempotency fingerprint reads the body even of operations that parse none.
            return reads_body or self._is_idempotent()
        if status_code == "415":
            return reads_body
        if status_code in ("409", "422"):
            return self._is_idempotent()
        if status_code == "401":
            return self._should_add_http401_error_response()
        if status_code == "404":
            return self._should_add_http404_error_response()
        if status_code == "406":
            return self._should_add_http406_error_response()
        if status_code == "429":
            # A view that refuses for its own limits (not a throttle class) says so.
            answers_throttled = getattr(self.view, "answers_throttled", False)
            return answers_throttled or self._should_add_http429_error_response()
        return status_code in ("405", "500")

    def _reads_body(self) -> bool:
        """DRF parses a body only when the view reads ``request.data``: those with a
        request serializer."""
        return self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None

    def _is_idempotent(self) -> bool:
        handler = getattr(self.view, self.method.lower(), None)
        return bool(getattr(handler, "idempotent", False))

    def _has_session_authentication(self) -> bool:
        return any(
            isinstance(authenticator, CsrfEnforcingSessionAuthentication)
            for authenticator in self.view.get_authenticators()
        )

    def _get_response_for_code(
        self,
        serializer: Any,
        status_code: str,
        media_types: Any = None,
        direction: Any = "response",
    ) -> dict:
        if status_code >= "400":
            media_types = [PROBLEM_MEDIA_TYPE]
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        if not response.get("description"):
            response["description"] = RESPONSE_DESCRIPTIONS.get(status_code, "")
        return response

    def _get_response_headers_for_code(self, status_code: str, direction: Any = "response") -> dict:
        headers = super()._get_response_headers_for_code(status_code, direction)
        headers["X-Request-ID"] = REQUEST_ID_HEADER
        if status_code == "202":
            headers["Location"] = _header(
                {"type": "string"}, "Where to see the result once it is applied: the cart."
            )
        if status_code == "429":
            headers["Retry-After"] = _header(
                {"type": "integer", "minimum": 0}, "Seconds to wait before trying again."
            )
        if status_code == "409" and self._is_idempotent():
            headers["Retry-After"] = _header(
                {"type": "integer", "minimum": 0}, "Seconds after which to retry."
            )
        if status_code == "401":
            headers["WWW-Authenticate"] = _header(
                {"type": "string"}, "The scheme to authenticate with: `Token`."
            )
        if status_code.startswith("2") and self._is_idempotent():
            headers[REPLAYED_HEADER] = _header(
                {"type": "string", "enum": ["true"]},
                f"Present on a retry with a known `{KEY_HEADER}`: this is the first answer, "
                "replayed; nothing was done again.",
                required=False,
            )
        return headers

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters.append(
                OpenApiParameter(
                    KEY_HEADER,
                    OpenApiTypes.STR,
                    location=OpenApiParameter.HEADER,
                    required=False,
                    pattern=KEY_PATTERN,
                    description="Makes a retry safe: a request sent again with the same key "
                    "(by the same caller, within `IDEMPOTENCY_KEY_TTL`) gets the first "
                    "answer instead of doing it twice. Use a new random key (a UUID) per "
                    "request. Needs a token, a signed-in session or a guest session cookie.",
                    examples=[
                        OpenApiExample("A UUID", value='"8e03978e-40d5-43e8-bc93-6894a57f9324"')
                    ],
                )
            )
        return parameters

    def _get_error_response_examples(self) -> list[OpenApiExample]:
        instance = self.path.replace("{sku}", "COF-001")
        return [
            OpenApiExample(
                name,
                value={"status": status, "instance": instance, "request_id": "4f6c0d9e", **body},
                status_codes=[str(status)],
                response_only=True,
            )
            for name, status, body in PROBLEM_EXAMPLES
            if self._reads_body() or name != "Unreadable body"
        ]


def _blank(status: int, detail: str, code: str) -> dict[str, Any]:
    return {"type": BLANK_TYPE, "title": HTTPStatus(status).phrase, "detail": detail, "code": code}


# (name, status, body): each operation shows those of its statuses, with its own path.
PROBLEM_EXAMPLES: list[tuple[str, int, dict[str, Any]]] = [
    (
        "Field errors",
        400,
        {
            "type": problem_type_uri("validation-error"),
            "title": "Your request is not valid.",
            "detail": "Ensure this value is less than or equal to 10.",
            "code": "invalid",
            "errors": [
                {
                    "code": "max_value",
                    "detail": "Ensure this value is less than or equal to 10.",
                    "attr": "quantity",
                }
            ],
        },
    ),
    (
        "Unreadable body",
        400,
        {
            "type": problem_type_uri("malformed-request"),
            "title": "The request body could not be read.",
            "detail": "JSON parse error - Expecting value: line 1 column 1 (char 0)",
            "code": "parse_error",
        },
    ),
    (
        "Invalid token",
        401,
        _blank(401, "Invalid token.", "authentication_failed"),
    ),
    (
        "CSRF check failed",
        403,
        _blank(403, "CSRF Failed: CSRF token missing.", "permission_denied"),
    ),
    (
        "Not found",
        404,
        _blank(404, "No Product matches the given query.", "not_found"),
    ),
    (
        "Method not allowed",
        405,
        _blank(405, 'Method "PATCH" not allowed.', "method_not_allowed"),
    ),
    (
        "Not acceptable",
        406,
        _blank(
            406,
            "Could not satisfy the request Accept header.",
            "not_acceptable",
        ),
    ),
    (
        "Still in progress",
        409,
        {
            "type": problem_type_uri("idempotency-key-in-use"),
            "title": "A request with this Idempotency-Key is still being processed.",
            "detail": "The first request with this Idempotency-Key has not finished; retry.",
            "code": "idempotency_key_in_use",
        },
    ),
    (
        "Too large",
        413,
        _blank(413, "Request body over 262144 bytes.", "payload_too_large"),
    ),
    (
        "Not JSON",
        415,
        _blank(
            415,
            'Unsupported media type "text/plain" in request.',
            "unsupported_media_type",
        ),
    ),
    (
        "Key reused",
        422,
        {
            "type": problem_type_uri("idempotency-key-reused"),
            "title": "This Idempotency-Key was already used for another request.",
            "detail": "This Idempotency-Key was used with another body; use a new key.",
            "code": "idempotency_key_reused",
        },
    ),
    (
        "Throttled",
        429,
        _blank(
            429,
            "Request was throttled. Expected available in 21 seconds.",
            "throttled",
        ),
    ),
    (
        "Server error",
        500,
        _blank(
            500,
            "The server failed to answer this request. Quote request id 4f6c0d9e when you "
            "report it.",
            "server_error",
        ),
    ),
]


def curl_sample(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    """A request example for any operation, with or without a body (``x-codeSamples``, as
    Redoc and other OpenAPI tools show it)."""
    parts = ["curl", "-si"] + ([] if method == "GET" else ["-X", method])
    parts += ["-H 'Authorization: Token <key>'"]
    if body is not None:
        parts += ["-H 'Content-Type: application/json'", f"-d '{body}'"]
    if method != "GET":
        parts += ['-H "Idempotency-Key: $(uuidgen)"']
    parts.append(f"http://127.0.0.1:8000{path}")
    return {"x-codeSamples": [{"lang": "Shell", "label": "curl", "source": " ".join(parts)}]}
