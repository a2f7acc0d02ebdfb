"""Session authentication that enforces CSRF for guests too.

DRF checks CSRF only for logged-in session users; a guest's cart is reached through the
session cookie as well, so any request that carries that cookie must pass the CSRF check.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request


class CsrfEnforcingSessionAuthentication(SessionAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None and settings.SESSION_COOKIE_NAME in request._request.COOKIES:
            self.enforce_csrf(request)
        return result


class CsrfEnforcingSessionScheme(OpenApiAuthenticationExtension):
    """Describe the session as it works: the cookie, and on writes the CSRF header too."""

    target_class = CsrfEnforcingSessionAuthentication
    name = ["cookieAuth", "csrfToken"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [
            {
                "type": "apiKey",
                "in": "cookie",
                "name": settings.SESSION_COOKIE_NAME,
                "description": "The session of a browser or a guest (set by the first "
                "write). Writes that carry it must send the CSRF token too.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": _csrf_header_name(),
                "description": f"The value of the `{settings.CSRF_COOKIE_NAME}` cookie "
                "(set by `GET /api/cart/`); needed on every write that carries the session "
                "cookie.",
            },
        ]

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[Any]]:
        if auto_schema.method in SAFE_METHODS:
            return {"cookieAuth": []}
        return {"cookieAuth": [], "csrfToken": []}


def _csrf_header_name() -> str:
    """``CSRF_HEADER_NAME`` is a WSGI key (``HTTP_X_CSRFTOKEN``); clients send a header."""
    if settings.CSRF_HEADER_NAME == "HTTP_X_CSRFTOKEN":
        return "X-CSRFToken"  # Django's spelling of its default
    return settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")
