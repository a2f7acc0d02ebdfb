"""Whether a cart may get an abandoned-cart reminder: the one rule that the policy applies
when it schedules and the mailer applies again when it sends."""

from __future__ import annotations

from typing import Any

from notifications.selectors import email_is_suppressed


def reminder_refusal(*, cart: Any, empty: bool, scheduled: bool) -> str:
    """Why ``cart`` must not get a reminder now, or "" when it may.

    ``cart`` is a cart from ``cart.selectors``; the reminder goes to its contact address.
    ``empty`` tells whether the cart is known to have no lines; ``scheduled`` whether a
    reminder was already scheduled (then a missing consent was withdrawn since).
    """
    if cart.is_checked_out:
        return "checked out"
    if not cart.is_open:
        return f"cart {cart.get_status_display().lower()}"
    if not cart.contact_email:
        return "no email address"
    if not cart.consent:
        return "consent withdrawn" if scheduled else "no consent"
    if not cart.contact_confirmed:
        # Double opt-in: a guest's consent counts once the address owner confirmed it.
        return "address not confirmed"
    if email_is_suppressed(email=cart.contact_email):
        return "unsubscribed"
    if empty:
        return "cart is empty"
    return ""
