"""Session authentication that enforces CSRF for guests too.

DRF checks CSRF only for logged-in session users; a guest's cart is reached through the
session cookie as well, so any request that carries that cookie must pass the CSRF check.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request


class CsrfEnforcingSessionAuthentication(SessionAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None and settings.SESSION_COOKIE_NAME in request._request.COOKIES:
            self.enforce_csrf(request)
        return result


class CsrfEnforcingSessionScheme(OpenApiAuthenticationExtension):
    """Describe the session cookie in the OpenAPI schema."""

    target_class = CsrfEnforcingSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
