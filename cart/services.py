"""Cart commands: look up, validate, hand out the next sequence number, publish the event.

The ``*_for_request`` commands are what the API and the pages call: each is one
transaction that finds (or creates) the caller's cart, looks up the product and runs the
cart command, so a refused command leaves nothing behind. The cart commands below them
never touch cart lines: the projection (:mod:`cart.projection`) builds lines from events.
Refusals are Django ``ValidationError``s (field errors where a field is to blame), which
the API's exception handler and the pages' messages show as they are.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from cart.discounts import discount_carry_over, discount_code_redeem
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


@dataclass(frozen=True)
class Accepted:
    """A command the cart accepted: its event is in the outbox, to be applied later."""

    envelope: Envelope
    cart: Cart
    product: Product | None = None
    order_id: str | None = None

    @property
    def event_id(self) -> str:
        return self.envelope.id


# --- Commands for the caller of a request (API and pages) ------------------------------------


def cart_item_add_for_request(*, request: HttpRequest, sku: str, quantity: int) -> Accepted:
    """Add ``quantity`` of ``sku`` to the caller's cart, creating the cart if needed.

    A new cart and its first event commit together: one durable commit per add, and a
    refused add leaves no empty cart behind.
    """
    with transaction.atomic():
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise ValidationError({"sku": f"Unknown product {sku!r}."})
        cart = cart_get_or_create_for_request(request=request)
        envelope = cart_item_add(cart=cart, product=product, quantity=quantity)
    cart_session_bind(request=request, cart=cart)
    return Accepted(envelope, cart, product)


def cart_item_quantity_set_for_request(
    *, request: HttpRequest, sku: str, quantity: int
) -> Accepted:
    """Set the quantity of the caller's line of ``sku`` (0 removes it); 404 for a product
    that is not on sale: the line the caller names cannot exist."""
    with transaction.atomic():
        product = get_object_or_404(Product.objects.active(), sku=sku)
        cart = _existing_cart(request)
        envelope = cart_item_quantity_set(cart=cart, product=product, quantity=quantity)
        return Accepted(envelope, cart, product)


def cart_item_remove_for_request(*, request: HttpRequest, sku: str) -> Accepted:
    """Remove the caller's line of ``sku`` (404 for a product that does not exist)."""
    with transaction.atomic():
        product = get_object_or_404(Product, sku=sku)
        cart = _existing_cart(request)
        return Accepted(cart_item_remove(cart=cart, product=product), cart, product)


def cart_checkout_for_request(*, request: HttpRequest) -> Accepted:
    """Check out the caller's cart: the projection turns its lines into an order."""
    with transaction.atomic():
        cart = cart_get_for_request(request=request)
        if cart is None:
            raise ValidationError("Your cart is empty.", code="cart_empty")
        envelope, order_id = cart_checkout(cart=cart)
        return Accepted(envelope, cart, order_id=order_id)


def cart_contact_set_for_request(*, request: HttpRequest, email: str, consent: bool) -> Accepted:
    """Set where the caller's reminders go and whether they may be sent."""
    if not request.user.is_authenticated and consent and not email:
        raise ValidationError({"email": "An address is needed to send reminders."})
    with transaction.atomic():
        cart = cart_get_or_create_for_request(request=request)
        envelope = cart_contact_set(cart=cart, email=email, consent=consent)
    cart_session_bind(request=request, cart=cart)
    return Accepted(envelope, cart)


def _existing_cart(request: HttpRequest) -> Cart:
    cart = cart_get_for_request(request=request)
    if cart is None:
        raise ValidationError({"sku": "Your cart is empty."})
    return cart


def cart_get_or_create_for_request(*, request: HttpRequest) -> Cart:
    """The caller's open cart, created (for the user, or for a guest) if needed; a new
    guest cart still has to be bound to the session (:func:`cart_session_bind`)."""
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
    return Cart.objects.create()


def cart_session_bind(*, request: HttpRequest, cart: Cart) -> None:
    """Remember a guest's cart in their session. Called once the cart's transaction has
    succeeded, so a refused first command leaves the session as it was."""
    if cart.user_id is None and request.session.get(SESSION_KEY) != str(cart.pk):
        request.session[SESSION_KEY] = str(cart.pk)


# --- Commands on a cart ----------------------------------------------------------------------


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


# savepoint=False: inside a caller's transaction a refusal rolls back the caller too, which
# is what a request wants, and costs no SAVEPOINT round trips.
@transaction.atomic(savepoint=False)
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


@transaction.atomic(savepoint=False)
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


@transaction.atomic(savepoint=False)
def cart_item_remove(*, cart: Cart, product: Product) -> Envelope:
    cart = _take_sequence(cart)
    return publish(
        CartItemRemoved(cart_id=str(cart.pk), sequence=cart.accepted_sequence, sku=product.sku)
    )


@transaction.atomic(savepoint=False)
def cart_checkout(*, cart: Cart) -> tuple[Envelope, str]:
    """Close the cart and publish CartCheckedOut; the projection turns it into an order."""
    if cart.pending_events == 0 and not cart.lines.exists():
        raise ValidationError("Your cart is empty.", code="cart_empty")
    cart = _take_sequence(cart, status=Cart.Status.CHECKED_OUT)
    order_id = str(uuid.uuid4())
    discount = discount_code_redeem(cart=cart, order_id=order_id)
    envelope = publish(
        CartCheckedOut(
            cart_id=str(cart.pk), sequence=cart.accepted_sequence, order_id=order_id, **discount
        )
    )
    return envelope, order_id


@transaction.atomic(savepoint=False)
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
    discount_carry_over(from_cart=guest_cart, to_cart=user_cart)
    return user_cart
