"""The discount a reminder email carries (``REMINDER_DISCOUNTS``): issued once per reminder
through :mod:`cart.discounts`, put on the cart when the shopper follows the email's link."""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.exceptions import ValidationError

from cart.discounts import (
    discount_code_apply,
    discount_code_issue,
    discount_code_refusal,
    percent_text,
)
from notifications.controls import discount_valid_for, step_discounts
from notifications.models import Reminder


def reminder_discount_issue(reminder: Reminder) -> None:
    """Give a reminder of a discounted step its own code (the same one on a retried send)."""
    percent = step_discounts().get(reminder.step)
    if percent is None or reminder.discount_code_id is not None:
        return
    code = discount_code_issue(
        reference=f"reminder-{reminder.pk}",
        percent=percent,
        valid_for=discount_valid_for(),
        email=reminder.email,
    )
    reminder.discount_code = code
    reminder.save(update_fields=["discount_code", "updated_at"])


def reminder_discount_apply(reminder: Reminder, *, cart: Any = None) -> None:
    """Put the reminder's code on ``cart`` (default: the reminder's; a signed-in shopper's
    own, when its lines went there), if the cart is open and the code still valid
    (:func:`reminder_discount_notice` tells the shopper which)."""
    cart = cart if cart is not None else reminder.cart
    code = reminder.discount_code
    if code is None or not cart.is_open or code.applied_to_id == cart.pk:
        return
    with contextlib.suppress(ValidationError):  # expired or used: the notice says so
        discount_code_apply(cart=cart, code=code.code)


def reminder_discount_notice(reminder: Reminder, *, cart: Any) -> str:
    """What to tell a shopper who restored the link about the email's code: that it is on
    ``cart`` (the cart the lines went to) now, or why it cannot be ("" without a code)."""
    code = reminder.discount_code
    if code is None:
        return ""
    code.refresh_from_db()  # as the restore left it
    refusal = discount_code_refusal(code)
    if refusal:
        return refusal
    if cart is None or code.applied_to_id != cart.pk:
        return ""
    off = percent_text(code.percent)
    return f"Your discount code {code.code} ({off}% off) is applied to your cart."
