"""Cart commands: validate, hand out the next sequence number, publish the event.

These run in the request and never touch cart lines: the projection
(:mod:`cart.projection`) builds lines from the events. Each command is one transaction
that makes sure the cart exists and writes its event to the outbox.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from cart.events import (
    CartCheckedOut,
    CartContactChanged,
    CartItemQuantityChanged,
    CartItemRemoved,
    ItemAddedToCart,
)
from cart.models import Cart
from cart.selectors import (
    SESSION_KEY,
    cart_get_for_request,
    cart_line_limit,
    cart_line_quantity,
    cart_line_usage,
)
from eventbus.envelope import Envelope
from eventbus.outbox import publish
from shop.models import Product


def cart_get_or_create_for_request(*, request: HttpRequest) -> Cart:
    """The caller's open cart, created (for the user, or bound to the session) if needed."""
    cart = cart_get_for_request(request=request)
    if cart is not None:
        return cart
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        try:
            with transaction.atomic():
                return Cart.objects.create(user=user)
        except IntegrityError:  # a concurrent request created it first
            return Cart.objects.get(user=user, status=Cart.Status.OPEN)
    cart = Cart.objects.create()
    request.session[SESSION_KEY] = str(cart.pk)
    return cart


def _take_sequence(cart: Cart, **changes: object) -> Cart:
    """Lock the open cart, take its next sequence number (per-cart order of events) and
    save it with ``changes``; returns the locked, updated cart."""
    locked = Cart.objects.select_for_update().get(pk=cart.pk)
    if locked.status != Cart.Status.OPEN:
        raise ValidationError("This cart is closed.", code="cart_closed")
    locked.accepted_sequence += 1
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.save(update_fields=["accepted_sequence", *changes, "updated_at"])
    return locked


@transaction.atomic
def cart_item_add(*, cart: Cart, product: Product, quantity: int) -> Envelope:
    if not product.active:
        raise ValidationError({"sku": "This product is not available."})
    current, lines = cart_line_usage(cart=cart, sku=product.sku)
    limit = cart_line_limit(product=product)
    if current + quantity > limit:
        room = max(limit - current, 0)
        raise ValidationError(
            {"quantity": f"At most {limit} per order line; you can add {room} more."}
        )
    if current == 0 and lines >= settings.CART_MAX_LINES:
        raise ValidationError({"sku": f"A cart holds at most {settings.CART_MAX_LINES} lines."})
    cart = _take_sequence(cart)
    return publish(
        ItemAddedToCart(
            cart_id=str(cart.pk),
            sequence=cart.accepted_sequence,
            sku=product.sku,
            quantity=quantity,
            unit_price=f"{product.price:.2f}",
            currency=product.currency,
        )
    )


@transaction.atomic
def cart_item_quantity_set(*, cart: Cart, product: Product, quantity: int) -> Envelope:
    """Set a line's quantity; 0 removes the line."""
    if quantity == 0:
        return cart_item_remove(cart=cart, product=product)
    limit = cart_line_limit(product=product)
    if quantity > limit:
        raise ValidationError({"quantity": f"At most {limit} of this product per order."})
    cart = _take_sequence(cart)
    return publish(
        CartItemQuantityChanged(
            cart_id=str(cart.pk),
            sequence=cart.accepted_sequence,
            sku=product.sku,
            quantity=quantity,
        )
    )


@transaction.atomic
def cart_item_remove(*, cart: Cart, product: Product) -> Envelope:
    cart = _take_sequence(cart)
    return publish(
        CartItemRemoved(cart_id=str(cart.pk), sequence=cart.accepted_sequence, sku=product.sku)
    )


@transaction.atomic
def cart_checkout(*, cart: Cart) -> tuple[Envelope, str]:
    """Close the cart and publish CartCheckedOut; the projection turns it into an order."""
    if cart.pending_events == 0 and not cart.lines.exists():
        raise ValidationError("Your cart is empty.", code="cart_empty")
    cart = _take_sequence(cart, status=Cart.Status.CHECKED_OUT)
    order_id = str(uuid.uuid4())
    envelope = publish(
        CartCheckedOut(cart_id=str(cart.pk), sequence=cart.accepted_sequence, order_id=order_id)
    )
    return envelope, order_id


@transaction.atomic
def cart_contact_set(*, cart: Cart, email: str, consent: bool) -> Envelope:
    """Set where reminders go and whether they may be sent (a user's address is the account's)."""
    if cart.user_id is not None:
        email = cart.user.email
    cart = _take_sequence(cart, email=email, consent=consent)
    return publish(
        CartContactChanged(
            cart_id=str(cart.pk), sequence=cart.accepted_sequence, email=email, consent=consent
        )
    )


@transaction.atomic
def cart_merge_guest_into_user(*, guest_cart: Cart, user: AbstractBaseUser) -> Cart | None:
    """On login: replay the guest cart's lines as adds to the user's cart, close the guest's."""
    guest_cart = Cart.objects.select_for_update().get(pk=guest_cart.pk)
    if guest_cart.status != Cart.Status.OPEN or guest_cart.user_id is not None:
        return None
    lines = list(guest_cart.lines.select_related("product"))
    guest_cart.status = Cart.Status.MERGED
    guest_cart.save(update_fields=["status", "updated_at"])
    if not lines:
        return None
    user_cart = Cart.objects.filter(user=user, status=Cart.Status.OPEN).first()
    if user_cart is None:
        user_cart = Cart.objects.create(
            user=user, email=guest_cart.email, consent=guest_cart.consent
        )
    for line in lines:
        room = cart_line_limit(product=line.product) - cart_line_quantity(
            cart=user_cart, sku=line.sku
        )
        quantity = min(line.quantity, room)
        if quantity > 0 and line.product.active:
            cart_item_add(cart=user_cart, product=line.product, quantity=quantity)
    return user_cart
