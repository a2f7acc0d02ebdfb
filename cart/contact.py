"""A guest's reminder address: what this browser confirmed, and how often it may cost
someone a confirmation email.

Double opt-in: an address a guest types counts for reminders only once its owner followed
the link in the confirmation email (``Cart.email_confirmed``). The browser remembers the
addresses it confirmed, so a later cart of the same browser needs no second email. The
confirmation emails are limited per address and per client (DRF's sliding-window
throttle, counted in the shared cache), so nobody can make the shop email an inbox in bulk.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from cart.models import Cart
from cart.selectors import SESSION_CONTACT_KEY
from core.clients import client_address

# The addresses this browser confirmed (normalized), newest last; a few are plenty.
SESSION_CONFIRMED_KEY = "cart_confirmed_emails"
_CONFIRMED_KEPT = 5


def email_normalize(email: str) -> str:
    return email.strip().lower()


class ConfirmationsThrottled(ValidationError):
    """Too many confirmation emails for this address or from this client: try later.

    A ValidationError, so the pages show it as a message; the API answers 429 with
    ``Retry-After`` (``wait``, in seconds).
    """

    def __init__(self, wait: float | None) -> None:
        self.wait = wait
        minutes = max(1, math.ceil((wait or 60) / 60))
        super().__init__(
            f"We sent enough confirmation emails for now; try again in {minutes} minute"
            f"{'s' if minutes != 1 else ''}.",
            code="throttled",
        )


class _Limit(SimpleRateThrottle):
    """DRF's throttle on a key of our choosing rather than the view's."""

    def __init__(self, *, scope: str, ident: str, rate: str) -> None:
        self.scope = scope
        self.ident = ident
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)

    def get_cache_key(self, request: object, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}


def confirmation_allow(*, request: HttpRequest, email: str) -> None:
    """Count one confirmation email to ``email`` asked for by this client; raises
    ConfirmationsThrottled beyond ``CART_CONFIRMATION_RATE_PER_CLIENT`` or
    ``CART_CONFIRMATION_RATE_PER_ADDRESS``."""
    address = hashlib.sha256(email_normalize(email).encode()).hexdigest()
    limits = [
        _Limit(
            scope="confirm_client",
            ident=client_address(request),
            rate=settings.CART_CONFIRMATION_RATE_PER_CLIENT,
        ),
        _Limit(
            scope="confirm_address", ident=address, rate=settings.CART_CONFIRMATION_RATE_PER_ADDRESS
        ),
    ]
    for limit in limits:
        if not limit.allow_request(request, None):
            raise ConfirmationsThrottled(limit.wait())


def contact_confirmed_for(*, request: HttpRequest, cart: Cart, email: str) -> bool:
    """Whether ``email`` counts as confirmed on ``cart`` without a new email: it is the
    cart's confirmed address already, or this browser confirmed it for an earlier cart."""
    address = email_normalize(email)
    if not address:
        return False
    if cart.email_confirmed and email_normalize(cart.email) == address:
        return True
    return address in _browser_confirmed(request)


def _browser_confirmed(request: HttpRequest) -> list[str]:
    """The addresses this browser confirmed. The last one it gave may have been confirmed
    since, from another device's mail client: its cart row knows, so ask once."""
    confirmed = list(request.session.get(SESSION_CONFIRMED_KEY, []))
    given = request.session.get(SESSION_CONTACT_KEY)
    pending = isinstance(given, dict) and given.get("email") and given["email"] not in confirmed
    if (
        pending
        and Cart.objects.filter(
            pk=given.get("cart"), email__iexact=given["email"], email_confirmed=True
        ).exists()
    ):
        confirmed = [*confirmed, given["email"]][-_CONFIRMED_KEPT:]
        request.session[SESSION_CONFIRMED_KEY] = confirmed
    return confirmed


def contact_remember(*, request: HttpRequest, cart: Cart, email: str, confirmed: bool) -> None:
    """After a guest set ``cart``'s address: this browser gave it (so it may see it), and,
    if it counts as confirmed, this browser has confirmed it."""
    known = _browser_confirmed(request)  # settles the previous address first
    address = email_normalize(email)
    request.session[SESSION_CONTACT_KEY] = {"cart": str(cart.pk), "email": address}
    if confirmed and address and address not in known:
        request.session[SESSION_CONFIRMED_KEY] = [*known, address][-_CONFIRMED_KEPT:]
