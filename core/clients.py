"""Who the client of a request is, the same for every limit and check that asks.

The address comes from the socket, or, behind ``NUM_PROXIES`` trusted proxies, from the
entry the outermost of them appended to ``X-Forwarded-For``: anything to its left was
written by the client and is ignored, so a forged header changes nothing. DRF's throttles
read the same setting (``REST_FRAMEWORK["NUM_PROXIES"]``); this delegates to them so the
login limits, the confirmation-email limits and ``/healthz`` cannot disagree with them.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    """The client's address as the trusted proxies (or the socket) report it."""
    return BaseThrottle().get_ident(request) or ""


def client_is_local(request: HttpRequest) -> bool:
    """Whether the client is this machine (a loopback address)."""
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False
