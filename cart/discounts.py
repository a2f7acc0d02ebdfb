"""Discount codes: issue one, apply it to a cart, redeem it once at checkout.

A code is a percentage off the cart's lines, unique, single-use and expiring. Other apps
issue codes through :func:`discount_code_issue` (the reminder mailer does, one per email);
the shopper applies one to their cart (the recovery link, or the cart page's form), and
checkout redeems it in the checkout's own transaction, so two carts holding the same code
cannot both use it. An expired or used code is refused with a message that says which.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from cart.events import CartCheckedOut
from cart.models import Cart, DiscountCode, Order
from cart.selectors import cart_get_for_request

# No 0/O or 1/I/L: codes are read off an email and typed.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CENT = Decimal("0.01")


def _new_code() -> str:
    groups = ["".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3)]
    return "-".join(groups)


def percent_text(percent: Decimal) -> str:
    """``10`` for 10.00, ``12.5`` for 12.50: how a percentage reads in a message."""
    return f"{percent.normalize():f}"


def code_normalize(code: str) -> str:
    return code.strip().upper()


def discount_amount(*, subtotal: Decimal, percent: Decimal) -> Decimal:
    """What ``percent`` takes off ``subtotal``, to the cent (half up), never more."""
    return min((subtotal * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP), subtotal)


def discount_code_refusal(code: DiscountCode, *, now: datetime | None = None) -> str:
    """Why ``code`` cannot be used now, or "" when it can."""
    if code.used_at is not None:
        return f"The discount code {code.code} has already been used."
    if code.expires_at <= (now or timezone.now()):
        expired = timezone.localtime(code.expires_at)
        return f"The discount code {code.code} expired on {expired:%d %b %Y at %H:%M}."
    return ""


# --- Issuing -----------------------------------------------------------------------------------


@transaction.atomic
def discount_code_issue(
    *, reference: str, percent: Decimal, valid_for: timedelta, email: str = ""
) -> DiscountCode:
    """The code issued for ``reference``, created on the first call: issuing again for the
    same reference (a retried email) gives the same code."""
    existing = DiscountCode.objects.filter(reference=reference).first()
    if existing is not None:
        return existing
    while True:
        try:
            with transaction.atomic():
                return DiscountCode.objects.create(
                    code=_new_code(),
                    percent=percent,
                    reference=reference,
                    email=email,
                    expires_at=timezone.now() + valid_for,
                )
        except IntegrityError:
            # A code collision (1 in 10^17) or a concurrent issue for the reference.
            existing = DiscountCode.objects.filter(reference=reference).first()
            if existing is not None:
                return existing


# --- Applying to a cart ------------------------------------------------------------------------


@transaction.atomic
def discount_code_apply(*, cart: Cart, code: str) -> DiscountCode:
    """Put ``code`` on the open ``cart`` (replacing the cart's code, taking it off any other
    cart); ValidationError for an unknown, expired or used code."""
    found = DiscountCode.objects.select_for_update().filter(code=code_normalize(code)).first()
    if found is None:
        raise ValidationError({"code": "There is no discount code like that."})
    refusal = discount_code_refusal(found)
    if refusal:
        raise ValidationError({"code": refusal})
    if not cart.is_open:
        raise ValidationError("This cart is closed.", code="cart_closed")
    if found.applied_to_id == cart.pk:
        return found
    DiscountCode.objects.filter(applied_to=cart).exclude(pk=found.pk).update(
        applied_to=None, applied_at=None
    )
    found.applied_to = cart
    found.applied_at = timezone.now()
    found.save(update_fields=["applied_to", "applied_at"])
    return found


def discount_code_apply_for_request(*, request: HttpRequest, code: str) -> DiscountCode:
    cart = cart_get_for_request(request=request)
    if cart is None:
        raise ValidationError({"code": "Your cart is empty."})
    return discount_code_apply(cart=cart, code=code)


def discount_code_remove_for_request(*, request: HttpRequest) -> bool:
    """Take the code off the caller's cart; False when there was none."""
    cart = cart_get_for_request(request=request)
    if cart is None:
        return False
    return bool(
        DiscountCode.objects.filter(applied_to=cart).update(applied_to=None, applied_at=None)
    )


def discount_carry_over(*, from_cart: Cart, to_cart: Cart) -> None:
    """A merged guest cart's code moves to the cart its lines went to (unless that cart
    has one of its own)."""
    if not DiscountCode.objects.filter(applied_to=to_cart).exists():
        DiscountCode.objects.filter(applied_to=from_cart, used_at__isnull=True).update(
            applied_to=to_cart
        )


# --- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartDiscount:
    """The code on a cart and what it does to the cart's total (if it still may be used)."""

    code: str
    percent: Decimal
    amount: Decimal
    total: Decimal
    refusal: str

    @property
    def usable(self) -> bool:
        return not self.refusal


def cart_discount(*, cart: Cart | None, subtotal: Decimal) -> CartDiscount | None:
    """The code applied to ``cart`` and the total it gives, or None without one."""
    if cart is None:
        return None
    code = DiscountCode.objects.filter(applied_to=cart).first()
    if code is None:
        return None
    refusal = discount_code_refusal(code)
    amount = (
        Decimal("0.00") if refusal else discount_amount(subtotal=subtotal, percent=code.percent)
    )
    return CartDiscount(code.code, code.percent, amount, subtotal - amount, refusal)


# --- Checkout ----------------------------------------------------------------------------------


def discount_code_redeem(*, cart: Cart, order_id: str) -> dict[str, str]:
    """Redeem the cart's code for ``order_id`` inside the checkout's transaction; returns
    the ``CartCheckedOut`` fields that carry it (none without a code). A code that expired
    or was used by another cart since it was applied refuses the checkout, saying so; the
    shopper can remove it and check out without it."""
    code = DiscountCode.objects.select_for_update().filter(applied_to=cart).first()
    if code is None:
        return {}
    refusal = discount_code_refusal(code)
    if refusal:
        raise ValidationError(
            f"{refusal} Remove it to check out without a discount.", code="discount_refused"
        )
    code.used_at = timezone.now()
    code.used_by_order_id = order_id
    code.save(update_fields=["used_at", "used_by_order_id"])
    return {"discount_code": code.code, "discount_percent": f"{code.percent:.2f}"}


def order_discount_apply(*, order: Order, event: CartCheckedOut) -> None:
    """Record the checkout's code on its new order and take the discount off its total."""
    if not event.discount_code:
        return
    order.discount_code = event.discount_code
    order.discount_amount = discount_amount(
        subtotal=order.total, percent=Decimal(event.discount_percent)
    )
    order.total -= order.discount_amount
    order.save(update_fields=["discount_code", "discount_amount", "total"])
